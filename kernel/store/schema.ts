/**
 * The store's schema as forward migrations. Version N is the database after
 * `MIGRATIONS[0..N-1]`; a database is never migrated backwards, and one written
 * by a newer Cellar is refused rather than guessed at.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE cellar_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
  CREATE SEQUENCE run_ids START 1;
  -- One row per run. (pipeline, run_key) is the identity that makes creating a run idempotent:
  -- scheduled and backfill runs use their logical date, manual runs a unique key.
  CREATE TABLE runs (
    run_id BIGINT PRIMARY KEY DEFAULT nextval('run_ids'),
    pipeline VARCHAR NOT NULL,
    run_key VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    logical_date TIMESTAMPTZ NOT NULL,
    interval_start TIMESTAMPTZ NOT NULL,
    interval_end TIMESTAMPTZ NOT NULL,
    params JSON NOT NULL,
    options JSON NOT NULL,
    state VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,
    UNIQUE (pipeline, run_key)
  );
  -- Every try of every cell, and the cells that never ran (upstream_failed) or came from cache.
  CREATE TABLE attempts (
    run_id BIGINT NOT NULL,
    cell VARCHAR NOT NULL,
    try_number INTEGER NOT NULL,
    state VARCHAR NOT NULL,
    started_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,
    wall_ms DOUBLE,
    cpu_ms DOUBLE,
    error VARCHAR,
    PRIMARY KEY (run_id, cell, try_number)
  );
  -- The checkpoint: a cell is done in a run exactly when it has a row here.
  CREATE TABLE outputs (
    run_id BIGINT NOT NULL,
    cell VARCHAR NOT NULL,
    pipeline VARCHAR NOT NULL,
    try_number INTEGER NOT NULL,
    cache_key VARCHAR NOT NULL,
    output JSON NOT NULL,
    output_hash VARCHAR NOT NULL,
    -- the params (name → value) and data interval the cell read: a cache hit needs the same values
    reads JSON NOT NULL,
    cached_from BIGINT,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, cell)
  );
  CREATE INDEX outputs_by_cache_key ON outputs (pipeline, cell, cache_key);
  CREATE TABLE logs (
    run_id BIGINT NOT NULL,
    cell VARCHAR NOT NULL,
    try_number INTEGER NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    level VARCHAR NOT NULL,
    message VARCHAR NOT NULL
  );
  CREATE TABLE costs (
    run_id BIGINT NOT NULL,
    cell VARCHAR NOT NULL,
    try_number INTEGER NOT NULL,
    resource VARCHAR NOT NULL,
    amount DOUBLE NOT NULL
  );
  CREATE SCHEMA cellar_data;
  `,
  // Pipeline triggers, in a schema of their own beside the run tables.
  `
  CREATE SCHEMA cellar_triggers;
  -- When a pipeline's trigger after another was first seen: runs of that other pipeline that ended
  -- earlier are history from before the trigger existed and fire nothing.
  CREATE TABLE cellar_triggers.registrations (
    pipeline VARCHAR NOT NULL,
    after_pipeline VARCHAR NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (pipeline, after_pipeline)
  );
  -- Each end of a triggering run a pipeline's trigger has judged, so that no scheduler judges it again.
  -- A run resumed after it ended ends again (a new ended_ms) and is judged again; it still fires at most
  -- one run, whose key names it.
  CREATE TABLE cellar_triggers.evaluations (
    pipeline VARCHAR NOT NULL,
    after_run_id BIGINT NOT NULL,
    run_ended_ms BIGINT NOT NULL,
    evaluated_at TIMESTAMPTZ NOT NULL,
    -- fired | not_met | failed (when or params threw) | already_fired (an earlier end of the run fired)
    result VARCHAR NOT NULL,
    fired_run_id BIGINT,
    error VARCHAR,
    PRIMARY KEY (pipeline, after_run_id, run_ended_ms)
  );
  `,
  // cellar_data was made for cell tables, which live in a schema per pipeline instead; nothing used it.
  `
  DROP SCHEMA IF EXISTS cellar_data;
  `,
  // Why each cell of a run was served from cache or recomputed (cache-reason.ts). The code version and upstream
  // output hashes its cache key was made of are kept too: the key is a hash, and a later miss is explained,
  // and a cell whose source changed since its last checkpoint marked stale, by comparing with them.
  `
  CREATE TABLE cell_reasons (
    run_id BIGINT NOT NULL,
    cell VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    detail VARCHAR,
    code_version VARCHAR NOT NULL,
    -- [[upstream cell, its output hash or null], …] in the cell's needs order
    upstream JSON NOT NULL,
    PRIMARY KEY (run_id, cell)
  );
  `,
  // Paused pipelines (pause.ts): the scheduler creates and starts no scheduled run of one until it is unpaused.
  `
  CREATE TABLE paused_pipelines (pipeline VARCHAR PRIMARY KEY, paused_at TIMESTAMPTZ NOT NULL);
  `,
  // Log lines get `seq`, their place in the order written: the cursor a page of a run's log is read by
  // (run-logs.ts), so that a page deep in a 1,000,000-line log costs what the first does, unlike an OFFSET. The
  // writer numbers new lines (GroupWriter.nextLogSeq); lines from before are numbered in the order they were
  // shown in. No index: DuckDB's min/max per row group on a column that only grows, and its top-N, find a page
  // of a million lines in a few milliseconds (bench/server-log.bench.ts), where an ART index would cost every insert.
  `
  CREATE TABLE logs_by_seq (
    run_id BIGINT NOT NULL,
    cell VARCHAR NOT NULL,
    try_number INTEGER NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    level VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    seq BIGINT NOT NULL
  );
  INSERT INTO logs_by_seq
    SELECT run_id, cell, try_number, ts, level, message, row_number() OVER (ORDER BY ts, cell, rowid) AS seq FROM logs ORDER BY seq;
  DROP TABLE logs;
  ALTER TABLE logs_by_seq RENAME TO logs;
  `,
  // What a cell measured when its check refused it (CheckFailed's details, check-details.ts), per failed try: a
  // failed check leaves no checkpoint, and a run's history (cell-results.ts) still shows what it measured. A
  // table of its own, written in the try's commit: no cache lookup or downstream input reads it.
  `
  CREATE TABLE check_details (
    run_id BIGINT NOT NULL,
    cell VARCHAR NOT NULL,
    try_number INTEGER NOT NULL,
    details JSON NOT NULL,
    PRIMARY KEY (run_id, cell, try_number)
  );
  `,
  // The runs a stopping server (SIGTERM: a deploy's restart) left interrupted for the next server to adopt
  // (orphans.ts), unlike a user's cancel, which leaves a run interrupted until resumed. A row of its own, not
  // the run's state: to every other reader the run is interrupted, and resumable, as any other.
  `
  CREATE TABLE run_handoffs (run_id BIGINT PRIMARY KEY, handed_at TIMESTAMPTZ NOT NULL);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
