"""Rendering: Chinese dates, every template with its variables, strict variables."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from qcycle import clock
from qcycle.errors import ConfigError
from qcycle.render import (
    TEMPLATE_NAMES,
    cn_date,
    cn_datetime,
    cn_deadline,
    render_message,
    weekday_cn,
)

DAY = dt.date(2023, 4, 20)  # a Thursday
DEADLINE = clock.at(DAY, dt.time(17, 30))

BASE = {
    "unit_name": "成都市市场监督管理局",
    "programme_name": "2023年四川省质量工作“揭榜挂帅”",
    "sender_name": "四川省市场监督管理局",
}
CONTEXTS = {
    "reminder.j2": {**BASE, "item": "揭榜书", "deadline": DEADLINE, "working_days_left": 3},
    "overdue.j2": {**BASE, "item": "揭榜书", "deadline": DEADLINE, "days_overdue": 2},
    "escalation.j2": {
        **BASE,
        "parent_name": "成都市市场监督管理局",
        "child_name": "武侯区市场监督管理局",
        "item": "中期检查报告",
        "deadline": DEADLINE,
        "days_overdue": 4,
        "direct": False,
    },
    "merged_reminder.j2": {
        **BASE,
        "items": [
            {
                "programme_name": "揭榜挂帅",
                "item": "揭榜书",
                "deadline": DEADLINE,
                "working_days_left": 2,
            },
            {
                "programme_name": "年度质量工作考核",
                "item": "自评报告",
                "deadline": DAY,
                "working_days_left": 0,
                "days_overdue": 1,
            },
        ],
    },
    "result.j2": {**BASE, "result_label": "考核结果", "result": "A级"},
    "step_result.j2": {**BASE, "stage_name": "资格审查结果", "rejections": [
        {"item": None, "verdict": "未通过资格审查（营业执照已过期）"}]},
    "review_request.j2": {**BASE, "unit_name": "福州市鼓楼区市场监督管理局", "stage_name": "县（市）区市场监管局初审", "step": "初审",
                          "handed_in": "申报材料", "deadline": DEADLINE, "scope": "辖区内",
                          "items": [{"unit_name": "示例软件信息服务（福州）有限公司", "item": None, "received_at": DEADLINE}]},
    "objection_reply.j2": {**BASE, "replies": [
        {"step": "调查核实", "upheld": False, "received_at": DEADLINE, "note": "所涉情况与事实不符"},
        {"step": "调查核实", "upheld": True, "received_at": None, "note": None}]},
    "praise.j2": {**BASE, "achievement": "在2015—2016年度质量工作考核中被评为A级"},
    "award.j2": {**BASE, "achievement": "荣获2024年广州市市长质量奖"},
    "summons.j2": {**BASE, "grounds": "未通过整改情况审核"},
    "notice.j2": {**BASE, "notice_name": "拟授奖名单", "notice_days": 7, "at": DEADLINE, "listed": True,
                  "objection_deadline": clock.at(dt.date(2023, 4, 26), dt.time(23, 59))},
    "publication.j2": {**BASE, "title": "发布揭榜名单", "at": DEADLINE, "takers": ["510100", "510300"]},
    "event_notice.j2": {**BASE, "stage_name": "现场评审", "event_on": dt.date(2023, 4, 24)},
    "window_open.j2": {**BASE, "item": "揭榜书", "at": DEADLINE, "deadline": DEADLINE, "handed_to": ""},
    "deadline_moved.j2": {**BASE, "item": "揭榜书", "deadline": clock.at(dt.date(2023, 4, 28), dt.time(17, 30)),
                          "moved_from": DAY},
    "rectification.j2": {**BASE, "reason": "考核等级为D级", "item": "书面整改报告", "rectification_deadline": DEADLINE},
    "report_due.j2": {**BASE, "item": "书面报告", "rectification_deadline": DEADLINE, "owing": ["甲市人民政府：被评为C级"]},
    "ops_digest.j2": {
        "unit_name": "四川省市场监督管理局",
        "sender_name": "质量工作周期系统（自动提醒）",
        "day": DAY,
        "failures": [
            {
                "unit_name": "武侯区市场监督管理局",
                "channel": "wecom",
                "subject": "【提醒】揭榜书",
                "status": "dead",
                "attempts": 5,
                "last_error": "wecom: code 93000 invalid webhook url",
            },
        ],
    },
    "withdrawal.j2": {**BASE, "item_name": "争创国家级质量标准实验室"},
    "report.j2": {**BASE, "listing": "推荐名单", "lines": ["甲公司（拟推荐，得分852.95）", "乙公司（拟推荐，得分801.20）"]},
    "circular.j2": {**BASE, "result_label": "考核结果", "lines": ["甲县：A级（得分92.04）", "乙县：B级（得分80.10）"],
                    "took_part": True},
    "extension_granted.j2": {**BASE, "item": "揭榜书", "moved_from": DAY, "deadline": clock.at(dt.date(2023, 4, 28), dt.time(17, 30))},
    "item_added.j2": {**BASE, "items": [{"name": "争创国家级质量标准实验室", "category": "质量创新", "deadline": DEADLINE}],
                      "handed_in": "揭榜书"},
    "refused_late.j2": {**BASE, "items": [{"item": "揭榜书（质量基础设施“一站式”服务成效明显地方）",
                                           "submitted_at": clock.at(dt.date(2023, 4, 21), dt.time(9, 12)),
                                           "deadline": DEADLINE, "in_force_at": None}]},
    "decision_pending.j2": {
        "unit_name": "四川省市场监督管理局",
        "programme_name": "揭榜挂帅",
        "stage_name": "审核揭榜书",
        "sender_name": "质量工作周期系统（自动提醒）",
        "handed_in": "揭榜书",
        "items": [
            {
                "programme_name": "揭榜挂帅",
                "title": "揭榜书审核",
                "unit_name": "成都市市场监督管理局",
                "received_at": DEADLINE,
            },
        ],
    },
}
# What each rendering must say (DOMAIN.md's terms).
MUST_SAY = {
    "reminder.j2": ["【提醒】", "2023年4月20日（星期四）17:30前提交", "还有3个工作日"],
    # the deadline written as a reminder writes it, weekday and all
    "overdue.j2": ["【逾期提醒】", "已逾期2个工作日", "应于2023年4月20日（星期四）17:30前"],
    "escalation.j2": ["【督办】", "武侯区市场监督管理局", "督促", "已逾期4个工作日", "应于2023年4月20日（星期四）17:30前"],
    "merged_reminder.j2": ["2项事项", "1. 揭榜挂帅：揭榜书", "还有2个工作日", "已逾期1个工作日"],
    "result.j2": ["【考核结果】", "A级"],
    "step_result.j2": ["【结果告知】2023年四川省质量工作“揭榜挂帅”：资格审查结果",
                       "贵单位在2023年四川省质量工作“揭榜挂帅”中未通过资格审查（营业执照已过期），不再参加后续环节。特此告知。"],
    # the bureau is asked for its own 初审, not for the "县（市）区市场监管局初审" it is
    "review_request.j2": ["【通知】2023年四川省质量工作“揭榜挂帅”：请报送初审意见",
                          ("“申报材料”已截止受理。贵单位辖区内以下1个单位按时提交了申报材料，请提出初审意见，"
                           "并于2023年4月20日（星期四）前将意见报送四川省市场监督管理局："),
                          "1. 示例软件信息服务（福州）有限公司（2023年4月20日 17:30提交）。"],
    "objection_reply.j2": ["【异议处理结果】",
                           "贵单位于2023年4月20日 17:30提出的异议，经调查核实，异议不成立。核实情况：所涉情况与事实不符。",
                           "贵单位提出的异议，经调查核实，异议成立，依规予以处理。", "特此函复。"],
    "praise.j2": ["【通报表扬】", "通报表扬"],
    "award.j2": ["【授奖通知】", "经研究决定，贵单位荣获2024年广州市市长质量奖，特予表彰。"],
    "summons.j2": ["【约谈通知】", "未通过整改情况审核", "约谈"],
    "notice.j2": ["【公示】", "贵单位已列入拟授奖名单。", "对该名单进行公示，公示期7天", "2023年4月26日（星期三）23:59前以书面形式"],
    "publication.j2": ["【通知】", "发布揭榜名单", "名单共列入2个单位"],
    "event_notice.j2": ["【通知】", "现场评审安排", "定于2023年4月24日（星期一）组织现场评审，请贵单位做好相关准备。"],
    "window_open.j2": ["【受理】", "开始受理", "星期四"],
    "deadline_moved.j2": ["【截止时间调整】", "截止时间延长至2023年4月28日", "由2023年4月20日延长至2023年4月28日（星期五）17:30",
                          "贵单位尚未提交"],
    "rectification.j2": ["【整改通知】", "前报送书面整改报告", "2023年4月20日（星期四）17:30"],
    "report_due.j2": ["【通知】", "以下1个单位须于2023年4月20日（星期四）17:30前向贵单位报送书面报告", "1. 甲市人民政府：被评为C级。"],
    "ops_digest.j2": ["【发送失败汇总】", "1条", "已停止重试", "93000"],
    "decision_pending.j2": ["【待审核】", "共1项揭榜书等待审核", "1. 成都市市场监督管理局，2023年4月20日 17:30提交。"],
    "refused_late.j2": ["【不予受理】", "揭榜书（质量基础设施“一站式”服务成效明显地方）逾期提交",
                        "贵单位于2023年4月21日 09:12提交的揭榜书", "晚于截止时间（2023年4月20日 17:30）",
                        "逾期提交的不予受理"],
    "item_added.j2": ["【新增事项】", "新增以下项目，现一并受理申报", "1. “争创国家级质量标准实验室”（质量创新）。",
                      "如申报，请于2023年4月20日（星期四）17:30前提交揭榜书。"],
    "extension_granted.j2": ["【同意延期】", "截止时间延长至2023年4月28日", "延期提交的申请收悉",
                             "由2023年4月20日延长至2023年4月28日（星期五）17:30", "逾期未提交的按逾期处理"],
    "report.j2": ["【报送】", "现将推荐名单（共2个）报送如下：", "1. 甲公司（拟推荐，得分852.95）；", "特此报告。"],
    "circular.j2": ["【通报】", "考核结果通报如下（共2个参评单位）：", "1. 甲县：A级（得分92.04）；", "2. 乙县：B级（得分80.10）。",
                    "特此通报。"],
    "withdrawal.j2": ["【事项撤销】", "“争创国家级质量标准实验室”项目已撤销", "贵单位该项目的后续工作不再进行", "不再收到"],
}


def test_cn_filters() -> None:
    assert cn_date(DAY) == "2023年4月20日"
    assert cn_date(dt.date(2024, 12, 1)) == "2024年12月1日"
    assert cn_datetime(DEADLINE) == "2023年4月20日 17:30"
    assert cn_datetime(DAY) == "2023年4月20日"
    # an aware UTC time is shown in Asia/Shanghai
    utc = dt.datetime(2023, 4, 19, 18, 5, tzinfo=dt.UTC)
    assert cn_datetime(utc) == "2023年4月20日 02:05"
    # no seconds: lateness is judged to the minute ("11:53:06提交" read as a log line)
    assert cn_datetime(DEADLINE + dt.timedelta(seconds=30)) == "2023年4月20日 17:30"
    # a deadline as an office writes it: the weekday after the date, the time last
    assert cn_deadline(DEADLINE) == "2023年4月20日（星期四）17:30" and cn_deadline(DAY) == "2023年4月20日（星期四）"
    assert cn_deadline(DEADLINE, "原定4月19日") == "2023年4月20日（星期四）17:30（原定4月19日）"
    assert weekday_cn(DAY) == "星期四"
    assert weekday_cn(dt.date(2026, 2, 15)) == "星期日"


def test_cn_filters_say_the_same_from_their_remembered_texts() -> None:
    """The texts of dates are remembered (asked a second time from the memo): a date and the
    midnight of that day, a naive and an aware time of the same wall clock, each keep their own."""
    from qcycle import render

    midnight = clock.at(DAY, dt.time(0, 0))
    render._date_text.cache_clear()
    for _ in range(2):
        assert cn_deadline(DAY) == "2023年4月20日（星期四）" and cn_deadline(midnight) == "2023年4月20日（星期四）00:00"
        assert cn_deadline(midnight.astimezone(dt.UTC)) == "2023年4月20日（星期四）00:00"
        assert cn_datetime(DAY) == "2023年4月20日" and cn_datetime(midnight) == "2023年4月20日 00:00"
        assert cn_date(midnight.astimezone(dt.UTC)) == "2023年4月20日"  # 19日 16:00 in UTC
        # A naive time is local (SQLite's); an aware one is taken to Asia/Shanghai.
        assert cn_datetime(dt.datetime(2023, 4, 20, 8, 0)) == "2023年4月20日 08:00"
        assert cn_datetime(dt.datetime(2023, 4, 20, 8, 0, tzinfo=dt.UTC)) == "2023年4月20日 16:00"
        assert cn_deadline(DAY, "原定4月19日") == "2023年4月20日（星期四）（原定4月19日）"
    assert render._date_text.cache_info().hits > 0
    with pytest.raises(TypeError, match="cn_date needs a date, got str"):
        cn_deadline("2023-04-20")  # type: ignore[arg-type]


def test_every_template_has_a_test_context() -> None:
    assert set(CONTEXTS) == set(TEMPLATE_NAMES) == set(MUST_SAY)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_templates_render_chinese(name: str) -> None:
    with clock.frozen(DAY):
        subject, body = render_message(name, CONTEXTS[name])
    assert "\n" not in subject and subject.startswith("【")
    text = subject + "\n" + body
    for phrase in MUST_SAY[name]:
        assert phrase in text, (name, phrase, text)
    assert re.search(r"[\u4e00-\u9fff]", body)
    assert "\n\n\n" not in body and body == body.strip()
    assert "{{" not in text and "{%" not in text


def test_reminder_on_the_deadline_day() -> None:
    with clock.frozen(DAY):
        _, body = render_message("reminder.j2", {**CONTEXTS["reminder.j2"], "working_days_left": 0})
    assert "今天是截止日" in body and "还有" not in body


def test_a_reminder_before_a_deadline_on_a_day_off_does_not_say_it_is_today() -> None:
    """江西's 创建方案 due on Sunday 3月31日 (not rolled): the deadline-day reminder went out on Friday
    saying "今天是截止日"."""
    sunday = clock.at(dt.date(2024, 3, 31), dt.time(17, 30))
    context = {**CONTEXTS["reminder.j2"], "deadline": sunday, "working_days_left": 0}
    with clock.frozen(dt.date(2024, 3, 29)):
        _, body = render_message("reminder.j2", context)
        _, merged = render_message("merged_reminder.j2", {
            **CONTEXTS["merged_reminder.j2"], "items": [{**CONTEXTS["merged_reminder.j2"]["items"][0],
                                                           "deadline": sunday, "working_days_left": 0}]})
    assert "2024年3月31日（星期日）17:30前" in body and "今天是截止前最后一个工作日，请于截止时间前提交。" in body, body
    assert "今天是截止日" not in body, body
    assert "今天是截止前最后一个工作日" in merged and "今天截止" not in merged, merged
    with clock.frozen(dt.date(2024, 3, 31)):
        _, merged = render_message("merged_reminder.j2", {
            **CONTEXTS["merged_reminder.j2"], "items": [{**CONTEXTS["merged_reminder.j2"]["items"][0],
                                                           "deadline": sunday, "working_days_left": 0}]})
    assert "今天截止" in merged, merged


def test_an_awards_validity_calls_a_title_a_title() -> None:
    """某省's 省级质量标杆 is a 称号, not an 奖项: "所获奖项有效期为3年" read as if it were a prize."""
    context = {**CONTEXTS["award.j2"], "validity": "3年（2025年至2027年）"}
    _, title = render_message("award.j2", {**context, "award": "省级质量标杆"})
    _, prize = render_message("award.j2", {**context, "award": "市长质量奖"})
    assert "所获称号有效期为3年（2025年至2027年）。" in title and "所获奖项有效期为3年" in prize


def test_optional_variables_appear_when_given() -> None:
    _, body = render_message(
        "result.j2",
        {
            **CONTEXTS["result.j2"],
            "score": 92.5,
            "objection_deadline": DEADLINE,
            "remarks": "公示5天",
        },
    )
    assert "得分92.5" in body and "如有异议" in body and "公示5天" in body


def test_a_moved_objection_or_voluntary_deadline_does_not_ask_for_a_hand_in() -> None:
    """An objection may be raised, an application is voluntary: neither "贵单位尚未提交" (宝山's
    listed candidates were told to file an objection when its 公示 was lengthened)."""
    base = {**CONTEXTS["deadline_moved.j2"], "item": "公示异议"}
    _, objection = render_message("deadline_moved.j2", {**base, "objection": True})
    _, voluntary = render_message("deadline_moved.j2", {**base, "voluntary": True})
    _, owed = render_message("deadline_moved.j2", base)
    assert "尚未提交" not in objection and "如有异议，请在截止时间前以书面形式提出。" in objection, objection
    assert "尚未提交" not in voluntary and "如需申报，请在截止时间前提交。" in voluntary, voluntary
    assert "贵单位尚未提交，请在新的截止时间前按要求提交。" in owed, owed
    assert all("。\n\n" in text for text in (objection, voluntary, owed))  # the signature apart from the text


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_missing_variable_names_the_template(name: str) -> None:
    context = dict(CONTEXTS[name])
    missing = min(context)
    del context[missing]
    with pytest.raises(ConfigError) as caught:
        render_message(name, context)
    (problem,) = caught.value.problems
    assert problem.file.endswith(name)
    assert problem.path == missing
    assert name in str(caught.value) and missing in str(caught.value)
    assert problem.line is not None


def test_override_folder_is_searched_first(tmp_path) -> None:
    (tmp_path / "reminder.j2").write_text(
        "{% block subject %}【本周期专用】{{ item }}{% endblock %}"
        "{% block body %}{{ unit_name }}：请于{{ deadline|cn_date }}前提交。{% endblock %}",
        encoding="utf-8",
    )
    subject, body = render_message("reminder.j2", CONTEXTS["reminder.j2"], override_dir=tmp_path)
    assert subject == "【本周期专用】揭榜书"
    assert body == "成都市市场监督管理局：请于2023年4月20日前提交。"
    # templates the override folder lacks still come from config/templates/
    subject, _ = render_message("overdue.j2", CONTEXTS["overdue.j2"], override_dir=tmp_path)
    assert subject.startswith("【逾期提醒】")


def test_a_burst_of_letters_looks_a_template_up_once_and_an_edit_is_picked_up(tmp_path, monkeypatch) -> None:
    """A stat per letter was ~2 % of a national year: within a moment a template is looked up once;
    an officer's edit to it still reaches the next letters."""
    import os.path

    from qcycle import render

    template = tmp_path / "reminder.j2"
    template.write_text("{% block subject %}甲{{ item }}{% endblock %}{% block body %}{{ unit_name }}{% endblock %}",
                        encoding="utf-8")
    stats = []
    real = os.path.getmtime
    monkeypatch.setattr(os.path, "getmtime", lambda path: stats.append(path) or real(path))
    monkeypatch.setattr(render, "RECHECK_SECONDS", 1e9)  # the burst within one moment, however slow the machine
    for _ in range(50):
        assert render_message("reminder.j2", CONTEXTS["reminder.j2"], override_dir=tmp_path)[0] == "甲揭榜书"
    assert len([s for s in stats if str(s) == str(template)]) <= 1, stats
    template.write_text("{% block subject %}乙{{ item }}{% endblock %}{% block body %}{{ unit_name }}{% endblock %}",
                        encoding="utf-8")
    os.utime(template, (real(template) + 5, real(template) + 5))  # a later file time, whatever the clock's grain
    monkeypatch.setattr(render, "RECHECK_SECONDS", 0.0)
    assert render_message("reminder.j2", CONTEXTS["reminder.j2"], override_dir=tmp_path)[0] == "乙揭榜书"


def test_a_round_named_for_its_work_is_not_followed_by_work_again() -> None:
    """江州's 抽查不合格后处理工作: "…后处理工作工作安排" had been sent in 73 letters."""
    for template in ("reminder.j2", "report.j2"):
        context = {**CONTEXTS[template], "programme_name": "江州市2025年产品质量监督抽查不合格后处理工作"}
        with clock.frozen(DAY):
            _, body = render_message(template, context)
        assert "不合格后处理工作安排" in body and "工作工作" not in body, body
        context = {**CONTEXTS[template], "programme_name": "江州市质量提升行动"}
        with clock.frozen(DAY):
            _, body = render_message(template, context)
        assert "江州市质量提升行动工作安排" in body, body


def test_a_name_with_quotation_marks_is_quoted_with_single_ones_inside() -> None:
    """临江's window for its “质量月”活动总结 opened with "活动““质量月”活动总结”自…起开始受理"."""
    item = "“质量月”活动总结"
    with clock.frozen(DAY):
        _, opened = render_message("window_open.j2", {**CONTEXTS["window_open.j2"], "item": item})
        _, invited = render_message("reminder.j2", {**CONTEXTS["reminder.j2"], "item": item, "voluntary": True})
    for body in (opened, invited):
        assert "“‘质量月’活动总结”" in body and "““" not in body, body


def test_template_errors_are_config_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="找不到函件模板"):
        render_message("nonexistent.j2", {})
    (tmp_path / "broken.j2").write_text("{% block subject %}{{ x {% endblock %}", encoding="utf-8")
    with pytest.raises(ConfigError, match="模板语法错误"):
        render_message("broken.j2", {}, override_dir=tmp_path)
    (tmp_path / "nobody.j2").write_text("{% block subject %}x{% endblock %}", encoding="utf-8")
    with pytest.raises(ConfigError, match="缺少 {% block body %}"):
        render_message("nobody.j2", {}, override_dir=tmp_path)


def test_a_long_decision_request_lists_a_few_and_counts_the_rest() -> None:
    entry = CONTEXTS["decision_pending.j2"]["items"][0]
    context = {**CONTEXTS["decision_pending.j2"], "items": [entry] * 3, "total": 30,
               "by_title": [{"title": "揭榜书审核", "count": 25}, {"title": "评价确认", "count": 5}]}
    with clock.frozen(DAY):
        subject, body = render_message("decision_pending.j2", context)
    assert subject == "【待审核】揭榜挂帅：审核揭榜书30项"
    assert "揭榜挂帅共30项揭榜书等待审核：" in body
    assert "按事项统计：\n揭榜书审核，25项；\n评价确认，5项。" in body
    assert body.count("成都市市场监督管理局") == 3
    assert "另有27项未列出" in body and "qcycle decide" in body


@pytest.mark.parametrize(("stage", "reviewers"), [
    ("县（市）区市场监管局初审", "县（市）区市场监管局"), ("乡镇（街道）或有关部门推荐", "乡镇（街道）或有关部门"), ("县区初审", "县区"),
    ("初审", None), ("年度复核", None), ("整改报告审核", None), ("第一期审核", None), ("隐患整改方案审核", None),
    ("县区局审核推荐", None), ("县级初审推荐", None)])
def test_a_review_stages_name_names_its_reviewers_only_where_it_names_units(stage, reviewers) -> None:
    """"年度复核" had given "各年度的复核意见": what comes before the step names the reviewers only where it ends as a unit's
    name does; else the letter says "各复核单位的意见"."""
    from qcycle.lifecycle.drafting import reviewers_named

    assert reviewers_named(stage) == reviewers


def test_a_decision_request_counts_items_missing_and_refused_and_says_more_are_unnamed() -> None:
    """Owed item by item, the 待审核 letter counts items (项), names each unit's with a semicolon between units, and says
    "等" where units are left unnamed; refused as late alike."""
    base = {**CONTEXTS["decision_pending.j2"], "handed_in": "评价确认申请"}
    missing = {"missing": ["甲市局的“A”、“B”", "乙市局的“C”"], "missing_total": 25, "missing_items": True, "missing_more": True,
               "refused": ["丙市局的“D”"], "refused_total": 1, "refused_items": True, "refused_more": False}
    with clock.frozen(DAY):
        _, body = render_message("decision_pending.j2", {**base, **missing})
    assert "尚有25项评价确认申请未提交，不在待审核之列：甲市局的“A”、“B”；乙市局的“C”等。" in body, body
    assert "另有1项逾期提交，不予受理，不在待审核之列：丙市局的“D”。" in body, body
    units = {"missing": ["甲市局", "乙市局"], "missing_total": 2, "missing_items": False, "missing_more": False}
    with clock.frozen(DAY):
        _, body = render_message("decision_pending.j2", {**base, **units})
    assert "尚有2个单位未提交评价确认申请，不在待审核之列：甲市局、乙市局。" in body, body


def test_a_decision_request_names_the_reviewers_as_their_stage_does() -> None:
    """福州's office read "各上级单位的初审意见应于今日报送": the 县（市）区局 are not its superiors. The opinions are
    the reviewers' the stage names, or the step's own (各初审单位); a decision on a decision says what waits for it."""
    base = {**CONTEXTS["decision_pending.j2"], "reviewed_step": "初审", "due": DEADLINE}
    with clock.frozen(DAY):
        _, named = render_message("decision_pending.j2", {**base, "reviewers": "县（市）区市场监管局", "due_when": "today"})
        _, unnamed = render_message("decision_pending.j2", {**base, "reviewers": None, "due_when": "past"})
        _, bare = render_message("decision_pending.j2", {**base, "handed_in": None, "stage_name": "资格审查"})
    assert "按日程，各县（市）区市场监管局的初审意见应于今日报送，请汇总后及时录入" in named, named
    assert "请尽快汇总各初审单位的意见后录入" in unnamed, unnamed
    assert "上级单位" not in named + unnamed
    assert "揭榜挂帅共1项等待资格审查：" in bare, bare


def test_a_second_chance_is_not_an_application() -> None:
    """小微企业's 复验申请, voluntary and only for those who failed 验收, read "自愿参加，如需申报"."""
    context = {**CONTEXTS["window_open.j2"], "item": "复验申请", "voluntary": True}
    _, invited = render_message("window_open.j2", context)
    _, again = render_message("window_open.j2", {**context, "second_chance": True})
    assert "自愿参加，如需申报" in invited, invited
    assert "如需提交复验申请，请在截止时间前按要求报送。" in again and "如需申报" not in again, again
    for name in ("reminder.j2", "deadline_moved.j2"):
        _, reminded = render_message(name, {**CONTEXTS[name], "item": "复验申请", "voluntary": True, "second_chance": True})
        assert "如需提交复验申请，请在截止时间前报送。" in reminded and "如需申报" not in reminded, (name, reminded)
    opening = {"item": "复验申请", "deadline": DEADLINE, "rolled": None, "voluntary": True, "second_chance": True,
               "objection": False, "handed_to": "", "submit_via": None, "lateness_costs": None}
    _, called = render_message("publication.j2", {**CONTEXTS["publication.j2"], "title": "公布验收结果", "takers": [],
                                                  "openings": [opening], "invited": [{**opening, "opens": DAY}]})
    assert called.count("如需提交复验申请，请在") == 2 and "如需申报" not in called, called


def test_a_praise_named_as_a_commendation_says_commended() -> None:
    """QC小组成果发表赛's 通报表彰获奖成果 read "现予通报表扬": the office's own word is 表彰."""
    subject, body = render_message("praise.j2", {**CONTEXTS["praise.j2"], "title": "通报表彰获奖成果"})
    assert subject.startswith("【通报表彰】") and "现予通报表彰。" in body and "表扬" not in body, (subject, body)
    subject, body = render_message("praise.j2", {**CONTEXTS["praise.j2"], "title": "通报表扬优秀单位"})
    assert subject.startswith("【通报表扬】") and "现予通报表扬。" in body, (subject, body)


def test_a_publicity_of_results_says_the_caps_under_them() -> None:
    context = {**CONTEXTS["notice.j2"], "results": ["甲公司：三等奖（得分88.39）", "乙公司：优秀奖（得分85.71）"],
               "places_rule": "按规定，一等奖不超过参评对象的10%，二等奖与一等奖合计不超过参评对象的30%。"}
    _, body = render_message("notice.j2", context)
    assert "2. 乙公司：优秀奖（得分85.71）。\n按规定，一等奖不超过参评对象的10%，二等奖与一等奖合计不超过参评对象的30%。\n" in body, body


def test_a_circulated_list_names_those_on_it_and_asks_nobody_to_look_it_up() -> None:
    """小微企业's 通报获证企业名单 told all 18 recipients "名单共列入5个单位，请及时查阅并按要求做好相关工作", naming nobody,
    under 【通知】."""
    context = {**CONTEXTS["publication.j2"], "title": "通报获证企业名单", "takers_names": ["甲公司", "乙公司"]}
    subject, body = render_message("publication.j2", {**context, "unit_code": "510100", "in_list": True})
    assert subject.startswith("【通报】"), subject
    assert "通报获证企业名单，贵单位已列入该名单（共2个单位）。\n名单如下：\n1. 甲公司；\n2. 乙公司。\n" in body, body
    assert "查阅" not in body and "做好相关工作" not in body, body
    _, other = render_message("publication.j2", {**context, "in_list": False})
    assert "名单共列入2个单位，贵单位未列入。\n名单如下：\n1. 甲公司；" in other, other


def test_a_published_list_tells_a_unit_on_it_so() -> None:
    on_list = {**CONTEXTS["publication.j2"], "unit_code": "510100", "in_list": True}
    _, body = render_message("publication.j2", on_list)
    assert "已于2023年4月20日发布揭榜名单，贵单位已列入该名单（共2个单位），请及时查阅" in body, body
    assert "名单共列入" not in body
    arrangement = {**on_list, "title": "发布陈述答辩安排"}  # not a list: no "列入该名单"
    _, body = render_message("publication.j2", arrangement)
    # One of those taking part is told so (首席质量官's enterprises had read only the count).
    assert "列入" not in body and "本次共安排2个单位参加，贵单位为参加单位之一。" in body, body
    _, other = render_message("publication.j2", {**arrangement, "in_list": False})
    assert "本次共安排2个单位参加。" in other, other
    # A list of a category (its name in brackets) is a list; so is a plan of projects with their takers (立项计划).
    by_category = {**on_list, "title": "公布通过技术审查的项目名单（装备制造类）", "listed_items": ["伺服液压系统"]}
    _, body = render_message("publication.j2", by_category)
    assert "（装备制造类），贵单位已列入该名单（共2个单位），列入的项目为“伺服液压系统”，请及时查阅" in body, body
    assert "安排" not in body, body
    plan = {**on_list, "title": "印发2026年度地方标准制修订项目计划"}
    _, body = render_message("publication.j2", plan)
    assert "项目计划，贵单位已列入该计划（共2个单位），请及时查阅" in body and "安排" not in body, body
    _, left = render_message("publication.j2", {**plan, "in_list": False})
    assert "计划共列入2个单位，贵单位未列入。" in left, left


def test_a_naming_tells_a_unit_it_was_named_and_the_others_that_they_were_not() -> None:
    """江州's 命名诚信计量示范单位 had told the named "请按要求做好相关工作。本次共安排3个单位参加。"."""
    naming = {**CONTEXTS["publication.j2"], "title": "命名2025年度江州市诚信计量示范单位（有效期3年）"}
    _, named = render_message("publication.j2", {**naming, "unit_code": "510100", "in_list": True})
    # The honour is said once (江西's read "命名…示范，贵单位被命名为…示范").
    assert ("已于2023年4月20日命名2025年度江州市诚信计量示范单位（有效期3年），共命名2个单位，贵单位名列其中，"
            "请及时查阅") in named and named.count("诚信计量示范单位") == 1, named
    assert "安排" not in named and "列入" not in named, named
    _, not_named = render_message("publication.j2", {**naming, "in_list": False})
    assert "（有效期3年），共命名2个单位，贵单位未获命名。" in not_named, not_named
    _, superior = render_message("publication.j2", {**naming, "unit_code": "510000", "onlooker": True,
                                                    "takers_below": ["成都市市场监督管理局"]})
    assert "共命名2个单位，其中贵单位辖区内1个：成都市市场监督管理局" in superior, superior
    # A unit named for some of its items is told which, and which not; "命名表彰…" names the honour after 表彰.
    _, items = render_message("publication.j2", {**naming, "unit_code": "510100", "in_list": True, "listed_items": ["电能表检定"],
                                                 "unlisted": ["水表检定"]})
    assert "共命名2个单位，贵单位名列其中，命名的项目为“电能表检定”，申报的“水表检定”未获命名，请及时查阅" in items, items
    _, honoured = render_message("publication.j2", {**naming, "unit_code": "510100", "in_list": True,
                                                    "title": "命名表彰2025年度江州市诚信计量示范单位"})
    assert "已于2023年4月20日命名表彰2025年度江州市诚信计量示范单位，共命名2个单位，贵单位名列其中" in honoured, honoured


def test_a_list_item_rejected_at_a_step_leaves_the_later_steps_alone() -> None:
    """温州: a unit that applied for both awards and lost one at the documents review stays in
    the other's steps; the letter says the item, not the unit, goes no further."""
    one = {**CONTEXTS["step_result.j2"], "rejections": [{"item": "温州市市长质量奖", "verdict": "未通过专家组资料评审"}]}
    _, body = render_message("step_result.j2", one)
    assert ("贵单位申报的“温州市市长质量奖”在2023年四川省质量工作“揭榜挂帅”中未通过专家组资料评审，"
            "该项申报不再参加后续环节。") in body, body
    _, body = render_message("step_result.j2", CONTEXTS["step_result.j2"])
    assert "该项申报" not in body and "中未通过资格审查（营业执照已过期），不再参加后续环节" in body


def test_an_overdue_entry_of_a_window_that_refuses_late_hand_ins_says_so_in_a_merged_letter() -> None:
    context = dict(CONTEXTS["merged_reminder.j2"])
    context["items"] = [dict(i) for i in context["items"]]
    overdue = next(i for i in context["items"] if i.get("days_overdue"))
    _, body = render_message("merged_reminder.j2", context)
    assert "逾期提交的不予受理" not in body
    # What is overdue is not done "on time" (a caught-up letter read "已逾期168个工作日……请按时办理").
    assert "请尽快办理。" in body and "请按时办理" not in body, body
    overdue["refused_late"] = True
    _, body = render_message("merged_reminder.j2", context)
    assert "已逾期1个工作日，逾期提交的不予受理。" in body, body
    assert "请按时办理。" in body  # the other one is still to come, and the late one is past asking for
    coming = next(i for i in context["items"] if not i.get("days_overdue"))
    coming["refused_late"] = True
    _, body = render_message("merged_reminder.j2", context)
    assert "还有2个工作日，逾期不予受理。" in body, body


def test_a_reminder_of_a_window_that_refuses_late_hand_ins_says_so() -> None:
    _, body = render_message("reminder.j2", CONTEXTS["reminder.j2"])
    assert "逾期不予受理" not in body
    _, body = render_message("reminder.j2", {**CONTEXTS["reminder.j2"], "refused_late": True})
    assert "请合理安排，按时提交；逾期不予受理。" in body, body
    with clock.frozen(DAY):
        _, body = render_message("reminder.j2", {**CONTEXTS["reminder.j2"], "refused_late": True, "working_days_left": 0})
    assert "今天是截止日，请于截止时间前提交；逾期不予受理。" in body, body


def test_a_quoted_name_turns_its_own_quotation_marks_single():
    from qcycle.render import quoted

    assert quoted("质量基础设施“一站式”服务成效明显地方") == "“质量基础设施‘一站式’服务成效明显地方”"
    assert quoted("培育争创中国质量奖（提名奖）") == "“培育争创中国质量奖（提名奖）”"


def test_a_report_due_to_another_unit_is_said_not_sent_not_unreceived() -> None:
    """焦作's 整改报告 goes to 市政府, and the 质量立市办 wrote "至今尚未收到" of it."""
    ctx = {**CONTEXTS["overdue.j2"], "item": "书面整改报告", "report_to": "焦作市人民政府"}
    body = render_message("overdue.j2", ctx)[1]
    assert "前向焦作市人民政府报送的书面整改报告，至今尚未报送，已逾期2个工作日。请尽快报送；" in body, body
    urged = render_message("escalation.j2", {**CONTEXTS["escalation.j2"], "direct": True, "report_to": "焦作市人民政府"})[1]
    assert "前向焦作市人民政府报送的" in urged and "仍未报送" in urged and "收到" not in urged.split("现予督办")[0], urged


def test_a_review_request_does_not_call_a_hand_in_taken_late_on_time() -> None:
    context = CONTEXTS["review_request.j2"]
    _, body = render_message("review_request.j2", context)
    assert "以下1个单位按时提交了申报材料" in body, body
    late = {**context["items"][0], "received_at": DEADLINE + dt.timedelta(days=1), "late": True}
    _, body = render_message("review_request.j2", {**context, "items": [context["items"][0], late]})
    assert "以下2个单位提交了申报材料" in body and "按时" not in body, body
    assert "（2023年4月21日 17:30提交，逾期提交，已受理）。" in body, body


@pytest.mark.parametrize("left", [3, 0])
def test_a_reminder_of_an_invitation_says_the_time_left_without_pressing_for_a_hand_in(left) -> None:
    """四川's cities choose whether to take an item: a city that chose none was told "请合理安排，按时
    提交" four times. A voluntary (or objection) window's reminder says the time left and the rule."""
    context = {**CONTEXTS["reminder.j2"], "working_days_left": left, "refused_late": True}
    _, owed = render_message("reminder.j2", context)
    assert ("请合理安排，按时提交；逾期不予受理。" if left else "请于截止时间前提交；逾期不予受理。") in owed, owed
    for kind in ("voluntary", "objection"):
        with clock.frozen(DAY):
            _, invited = render_message("reminder.j2", {**context, kind: True})
        assert ("距截止还有3个工作日，逾期不予受理。" if left else "今天是截止日，逾期不予受理。") in invited, invited
        assert "按时提交" not in invited and "请于截止时间前提交；" not in invited, invited


def test_a_merged_reminder_keeps_an_overdue_items_warning_of_the_urging_to_come() -> None:
    """An overdue notice merged with the day's other reminders lost its "…仍未提交，将…督办" line: the
    merged letter's entries were built from the items without it."""
    from qcycle.notify.reminders import render_items

    base = {k: v for k, v in BASE.items() if k not in ("item", "deadline")}
    items = [
        {"template": "reminder.j2", "action_key": "a", "context": {
            **base, "programme_name": "揭榜挂帅", "item": "揭榜书", "deadline": DEADLINE, "working_days_left": 2}},
        {"template": "overdue.j2", "action_key": "b", "context": {
            **base, "programme_name": "年度质量工作考核", "item": "自评报告", "deadline": clock.at(dt.date(2023, 4, 18),
                                                                                            dt.time(17, 30)),
            "days_overdue": 2, "escalate_on": dt.date(2023, 4, 21), "escalate_to": "某市人民政府"}},
        {"template": "overdue.j2", "action_key": "c", "context": {
            **base, "programme_name": "质量提升行动", "item": "进展报告", "deadline": clock.at(dt.date(2023, 4, 18),
                                                                                         dt.time(17, 30)),
            "days_overdue": 2, "escalate_on": dt.date(2023, 4, 24), "escalate_to": None}},
    ]
    _, body = render_items(items, None)
    assert "自评报告，截止2023年4月18日（星期二）17:30，已逾期2个工作日，如仍未提交，将于2023年4月21日提请某市人民政府督办。" in body, body
    assert "进展报告，截止2023年4月18日（星期二）17:30，已逾期2个工作日，如仍未提交，将于2023年4月24日予以督办。" in body, body
    assert body.count("督办") == 2


@pytest.mark.parametrize("same", [True, False])
def test_a_merged_reminder_says_how_each_item_goes_and_whom_to_ask_once_where_it_can(same: bool) -> None:
    from qcycle.notify.reminders import render_items

    base = {k: v for k, v in BASE.items() if k not in ("item", "deadline")}
    later = clock.at(dt.date(2023, 4, 28), dt.time(17, 30))
    items = [
        {"template": "reminder.j2", "action_key": "a", "context": {
            **base, "programme_name": "揭榜挂帅", "item": "揭榜书", "deadline": DEADLINE, "working_days_left": 2,
            "submit_via": "通过质量工作平台在线填报", "contact": "质量处 张三，028-1234567"}},
        {"template": "reminder.j2", "action_key": "b", "context": {
            **base, "programme_name": "质量提升行动", "item": "进展报告", "deadline": later, "working_days_left": 6,
            "submit_via": None, "contact": "质量处 张三，028-1234567" if same else "督查科 李四，028-7654321"}},
    ]
    _, body = render_items(items, None)
    lines = body.splitlines()
    first = next(line for line in lines if line.startswith("1. "))
    second = next(line for line in lines if line.startswith("2. "))
    assert first.endswith("还有2个工作日。报送方式：通过质量工作平台在线填报。" + ("" if same else "联系人：质量处 张三，028-1234567。"))
    assert "报送方式" not in second and second.endswith("还有6个工作日。" + ("" if same else "联系人：督查科 李四，028-7654321。"))
    assert ("联系人：质量处 张三，028-1234567" in lines[-4:]) is same and body.count("联系人") == (1 if same else 2), body
    # One way to hand in for both: said once, after the list; a deadline moved off a day off says why.
    alike = [{**i, "context": {**i["context"], "submit_via": "通过质量工作平台在线填报"}} for i in items]
    alike[1]["context"]["rolled"] = "原定4月29日，遇休息日顺延"
    _, body = render_items(alike, None)
    assert body.count("报送方式") == 1 and "\n报送方式：通过质量工作平台在线填报。\n" in body, body
    assert "截止2023年4月28日（星期五）17:30（原定4月29日，遇休息日顺延）" in body, body
    # An item refused past its deadline asks for nothing: the other's way is its own, not shared.
    refused = {**alike[0], "context": {**alike[0]["context"], "days_overdue": 2, "refused_late": True,
                                       "submit_via": "纸质报送"}}
    _, body = render_items([refused, alike[1]], None)
    assert "报送方式：纸质报送" not in body and body.count("报送方式：通过质量工作平台在线填报。") == 1, body


def test_a_merged_reminder_says_what_lateness_costs_once_or_with_its_item() -> None:
    """某市's counties read "逾期报送的，每次扣2分" only in a reminder that came alone: merged with the day's
    other reminders, the sentence was lost."""
    from qcycle.notify.reminders import render_items

    base = {k: v for k, v in BASE.items() if k not in ("item", "deadline")}
    costs = "按考核规定，逾期报送的，每次扣2分。"
    later = clock.at(dt.date(2023, 4, 28), dt.time(17, 30))
    items = [
        {"template": "reminder.j2", "action_key": "a", "context": {
            **base, "programme_name": "质量工作考核", "item": "季度进展报告", "deadline": DEADLINE,
            "working_days_left": 2, "lateness_costs": costs}},
        {"template": "reminder.j2", "action_key": "b", "context": {
            **base, "programme_name": "质量提升行动", "item": "进展报告", "deadline": later, "working_days_left": 6,
            "lateness_costs": None}},
    ]
    _, body = render_items(items, None)
    lines = body.splitlines()
    assert next(line for line in lines if line.startswith("1. ")).endswith("还有2个工作日。" + costs), body
    assert "扣" not in next(line for line in lines if line.startswith("2. ")) and body.count(costs) == 1, body
    # The same for both: said once, after the list.
    items[1]["context"]["lateness_costs"] = costs
    _, body = render_items(items, None)
    assert body.count(costs) == 1 and f"\n{costs}\n" in body and not any(
        line.startswith(("1. ", "2. ")) and costs in line for line in body.splitlines()), body


def test_an_overdue_notice_warns_of_the_urging_to_come_as_its_window_allows() -> None:
    """"如仍未提交，将于…予以督办" where a late hand-in is still taken (not "届时仍未提交的": no time was named before it;
    nor "如在7月19日前仍未提交": the 督办 went at 09:00 on the 19th, a day the programme's "…日前" counts in); where it
    is refused (逾期不予受理) there is nothing left to hand in, and the warning says the lateness itself will be
    reported."""
    later = {"escalate_on": dt.date(2023, 4, 25), "escalate_to": "成都市人民政府"}
    _, body = render_message("overdue.j2", {**CONTEXTS["overdue.j2"], **later})
    assert "请尽快提交；如有特殊情况，请及时说明原因。\n如仍未提交，将于2023年4月25日提请成都市人民政府督办。" in body, body
    _, body = render_message("overdue.j2", {**CONTEXTS["overdue.j2"], **later, "refused_late": True})
    assert "贵单位逾期未提交的情况将于2023年4月25日报成都市人民政府督办。" in body and "届时" not in body, body
    _, body = render_message("overdue.j2", {**CONTEXTS["overdue.j2"], **later, "escalate_to": None})
    assert "如仍未提交，将于2023年4月25日予以督办。" in body and "届时" not in body and "前仍未" not in body, body
    # Where the report goes to another unit, the letter keeps to its own verb (报送, not 提交).
    _, body = render_message("overdue.j2", {**CONTEXTS["overdue.j2"], **later, "report_to": "市政府"})
    assert "请尽快报送；" in body and "如仍未报送，将于2023年4月25日提请成都市人民政府督办。" in body, body


@pytest.mark.parametrize(("title", "to_read"), [
    ("印发县区质量工作考核通知", True), ("颁布实施细则", True), ("召开会议部署《实施方案》", True),
    ("公布拟获奖企业名单", True), ("启动考核工作", False), ("组织现场评审", False),
])
def test_a_publication_asks_its_units_to_read_only_what_was_issued(title, to_read) -> None:
    context = {**BASE, "title": title, "at": DAY}
    context.pop("item", None)
    _, body = render_message("publication.j2", context)
    assert ("，请及时查阅并按要求做好相关工作。" in body) == to_read != ("，请按要求做好相关工作。" in body), body


def test_a_category_is_named_once_as_what_it_is():
    """A second batch modelled as a category read "申报书（第一批类）": a name that already says what it
    is (a batch, a class) is not given 类 again; letters and the limit's templates share the filter."""
    from qcycle.render import get_environment
    from qcycle.schema import category_label

    assert [category_label(n) for n in ("质量创新", "创先引领类", "第一批", "2027年第二期", "A组")] == [
        "质量创新类", "创先引领类", "第一批", "2027年第二期", "A组"]
    assert get_environment().filters["category_label"] is category_label


def test_a_period_named_as_its_category_is_said_once():
    """A batch's 中期报告 read "中期报告（第一批，第一批）" where its period bore its category's name."""
    from qcycle.lifecycle.drafting import item_name

    assert item_name("中期报告", ["第一批", "第一批"]) == "中期报告（第一批）"
    assert item_name("中期检查（进展报告）", ["2024年6月", "创先引领类"]) == "中期检查（进展报告，2024年6月，创先引领类）"


def test_a_report_of_the_list_a_round_is_named_after_names_it_once() -> None:
    """"【报送】2024年度市级品牌培育指导目录：2024年度市级品牌培育指导目录"."""
    name = "2024年度市级品牌培育指导目录"
    subject, body = render_message("report.j2", {**CONTEXTS["report.j2"], "programme_name": name, "listing": name})
    assert subject == f"【报送】{name}" and f"现将{name}（共2个）报送如下" in body, (subject, body)
    subject, _ = render_message("report.j2", CONTEXTS["report.j2"])
    assert subject == "【报送】2023年四川省质量工作“揭榜挂帅”：推荐名单"


def test_a_report_owed_for_a_grade_that_is_no_rectification_is_asked_for_plainly() -> None:
    """设区市考核's C级 cities owe the 省政府 a 书面报告, and read 【整改通知】"请认真查找原因，制定整改措施"."""
    context = {**CONTEXTS["rectification.j2"], "reason": "被评为C级"}
    subject, body = render_message("rectification.j2", {**context, "item": "书面报告"})
    assert subject.startswith("【通知】") and "被评为C级。请于" in body and "整改" not in subject + body, (subject, body)
    subject, body = render_message("rectification.j2", {**context, "item": "书面整改报告"})
    assert subject.startswith("【整改通知】") and "请认真查找原因，制定整改措施，于" in body, (subject, body)


def test_a_list_to_come_is_promised_after_the_review_it_belongs_to() -> None:
    """A call telling a bureau of a review whose hand-ins come through the office (申报材料) and one it receives itself
    (复查申请, due later) had promised "具体名单届时另行通知" after the second, the one it needs no list for."""
    review = {"item": "申报材料", "closes": DEADLINE, "step": "初审", "due": DEADLINE + dt.timedelta(days=20),
              "scope": "辖区内", "after": None, "limit": None, "word": "个", "received": False}
    received = {**review, "item": "复查申请", "due": DEADLINE + dt.timedelta(days=40), "received": True}
    _, body = render_message("publication.j2", {**CONTEXTS["publication.j2"], "reviews": [received, review]})
    first, _, second = body.partition("复查申请")
    assert "具体名单届时另行通知" in first and "另行通知" not in second, body
