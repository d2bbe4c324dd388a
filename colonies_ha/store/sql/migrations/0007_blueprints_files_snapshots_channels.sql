-- The current generation's extras (pycolonies 1.0.12+): blueprints and their definitions,
-- Colonies FS file metadata (the bytes live in S3), snapshots of a label, and process
-- channels.  Every row belongs to a colony and goes with it (ON DELETE CASCADE).

-- A blueprint kind: who reconciles it (spec.handler) and what its spec must look like
-- (spec.schema).  `data` holds the definition in its wire shape.
CREATE TABLE blueprint_definitions (
    definitionid text PRIMARY KEY,
    colonyid     text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    name         text NOT NULL,
    kind         text NOT NULL,  -- spec.names.kind: the kind its blueprints carry
    data         jsonb NOT NULL,
    UNIQUE (colonyid, name)
);
CREATE INDEX blueprint_definitions_kind_idx ON blueprint_definitions (colonyid, kind);

-- Desired state (spec) and reported state (status) of one thing a reconciler manages.
-- `data` holds the blueprint in its wire shape; the columns are what queries select by.
CREATE TABLE blueprints (
    blueprintid  text PRIMARY KEY,
    colonyid     text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    name         text NOT NULL,
    kind         text NOT NULL,
    locationname text NOT NULL DEFAULT '',
    data         jsonb NOT NULL,
    UNIQUE (colonyid, name)
);
CREATE INDEX blueprints_kind_idx ON blueprints (colonyid, kind, lower(locationname));

-- One row per create and per spec change; kept after the blueprint is removed (an audit
-- trail), like upstream, until the colony goes.
CREATE TABLE blueprint_history (
    historyid   text PRIMARY KEY,
    blueprintid text NOT NULL,
    colonyid    text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    kind        text NOT NULL,
    namespace   text NOT NULL,
    name        text NOT NULL,
    generation  bigint NOT NULL,
    spec        jsonb NOT NULL,
    status      jsonb,
    "timestamp" timestamptz NOT NULL DEFAULT clock_timestamp(),
    changedby   text NOT NULL,
    changetype  text NOT NULL
);
CREATE INDEX blueprint_history_idx ON blueprint_history (blueprintid, "timestamp" DESC);

-- Colonies FS: immutable file versions; the newest version of a (label, name) is the one
-- with the highest sequence number, drawn from one sequence for the whole server.
CREATE SEQUENCE file_seq;
CREATE TABLE files (
    fileid      text PRIMARY KEY,
    colonyid    text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    label       text NOT NULL,
    name        text NOT NULL,
    size        bigint NOT NULL,
    sequencenr  bigint NOT NULL DEFAULT nextval('file_seq'),
    checksum    text NOT NULL,
    checksumalg text NOT NULL,
    added       timestamptz NOT NULL DEFAULT now(),
    ref         jsonb NOT NULL  -- {"protocol": "s3", "s3object": {...}}: where the bytes are
);
CREATE INDEX files_label_idx ON files (colonyid, label, name, sequencenr DESC);

-- The newest version of every file under a label (and its sub-labels) at one moment.
CREATE TABLE snapshots (
    snapshotid text PRIMARY KEY,
    colonyid   text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    label      text NOT NULL,
    name       text NOT NULL,
    fileids    text[] NOT NULL DEFAULT '{}',
    added      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (colonyid, name)
);

-- Process channels: append-only logs between a process's submitter and its executor.
-- `length` is bumped under the row lock by every append, so positions are dense (1, 2,
-- ...) and a reader's `afterseq` (how many entries it has) is a plain position bound.
-- A finished process's channels take no new readers or writers (as upstream, which drops
-- them at close), but streams already open drain what was appended before the close; the
-- rows go when the process is removed.
CREATE TABLE channels (
    processid text NOT NULL REFERENCES processes ON DELETE CASCADE,
    name      text NOT NULL,
    length    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (processid, name)
);
CREATE TABLE channel_entries (
    processid text NOT NULL,
    name      text NOT NULL,
    position  bigint NOT NULL,
    sequence  bigint NOT NULL,
    inreplyto bigint NOT NULL DEFAULT 0,
    senderid  text NOT NULL,
    payload   bytea NOT NULL,
    type      text NOT NULL,
    added     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (processid, name, position),
    FOREIGN KEY (processid, name) REFERENCES channels ON DELETE CASCADE
);
