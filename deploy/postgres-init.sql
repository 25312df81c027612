-- Two databases on one PostgreSQL: Prefect's run history and qcycle's application data.
-- Passwords here are placeholders for a first start; change them with ALTER ROLE.
CREATE ROLE prefect LOGIN PASSWORD 'change-me-prefect';
CREATE DATABASE prefect OWNER prefect;
CREATE ROLE qcycle LOGIN PASSWORD 'change-me-qcycle';
CREATE DATABASE qcycle OWNER qcycle;
\connect prefect
CREATE EXTENSION IF NOT EXISTS pg_trgm;
