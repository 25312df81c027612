"""qcycle: the yearly cycles of quality work (质量工作年度周期) as observable flows."""

__version__ = "0.1.0"
