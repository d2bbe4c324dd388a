-- Workflows (process graphs), generators with their durable argument queue, and crons.

CREATE TABLE processgraphs (
    processgraphid  text PRIMARY KEY,
    colonyid        text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    rootprocessids  text[] NOT NULL,
    state           smallint NOT NULL DEFAULT 0,
    submissiontime  timestamptz NOT NULL DEFAULT now(),
    starttime       timestamptz,
    endtime         timestamptz
);
CREATE INDEX processgraphs_colony_state_idx ON processgraphs (colonyid, state, submissiontime);

CREATE TABLE generators (
    generatorid   text PRIMARY KEY,
    colonyid      text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    name          text NOT NULL,
    workflowspec  text NOT NULL,
    trigger       integer NOT NULL CHECK (trigger > 0),
    lastrun       timestamptz,
    checkerperiod integer NOT NULL DEFAULT 1000,
    UNIQUE (colonyid, name)
);

-- Packed arguments wait here until a scan consumes `trigger` of them into one workflow, in
-- the same transaction that submits it, so an argument is never lost or used twice.
CREATE TABLE generator_args (
    seq          bigserial PRIMARY KEY,
    generatorid  text NOT NULL REFERENCES generators ON DELETE CASCADE,
    arg          text NOT NULL,
    added        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX generator_args_queue_idx ON generator_args (generatorid, seq);

CREATE TABLE crons (
    cronid                  text PRIMARY KEY,
    colonyid                text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    name                    text NOT NULL,
    cronexpression          text NOT NULL DEFAULT '',
    interval                integer NOT NULL,
    random                  boolean NOT NULL DEFAULT false,
    -- NULL until the first scan computes it (the first scan only schedules).
    nextrun                 timestamptz,
    lastrun                 timestamptz,
    workflowspec            text NOT NULL,
    prevprocessgraphid      text NOT NULL DEFAULT '',
    waitforprevprocessgraph boolean NOT NULL DEFAULT false,
    checkerperiod           integer NOT NULL DEFAULT 1000,
    UNIQUE (colonyid, name)
);
