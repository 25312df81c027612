-- Two databases on one PostgreSQL: Prefect's run history and qcycle's application data.
-- Passwords here are placeholders for a first start; change them with ALTER ROLE.
CREATE ROLE prefect LOGIN PASSWORD 'change-me-prefect';
CREATE DATABASE prefect OWNER prefect;
CREATE ROLE qcycle LOGIN PASSWORD 'change-me-qcycle';
CREATE DATABASE qcycle OWNER qcycle;
-- Prefect's migrations create the pg_trgm extension themselves (a trusted extension: the
-- database owner may), so its owner is `prefect` and pg_restore as `prefect` works.
