-- Core schema: colonies, executors, functions, processes, attributes, and the fencing row.

-- One row: who leads and under which epoch.  A leader-only transaction takes the fencing
-- advisory lock in shared mode and checks the epoch; a new leader bumps it under the same
-- lock in exclusive mode, so no old leader's transaction can commit after the bump.
CREATE TABLE leader (
    id        integer PRIMARY KEY CHECK (id = 1),
    epoch     bigint NOT NULL,
    term      bigint NOT NULL,
    nodeid    text NOT NULL,
    since     timestamptz NOT NULL
);
INSERT INTO leader VALUES (1, 0, 0, '', now());

CREATE TABLE colonies (
    colonyid  text PRIMARY KEY,
    name      text NOT NULL UNIQUE
);

CREATE TABLE executors (
    executorid        text PRIMARY KEY,
    colonyid          text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    executortype      text NOT NULL,
    executorname      text NOT NULL,
    state             smallint NOT NULL DEFAULT 0,
    requirefuncreg    boolean NOT NULL DEFAULT false,
    commissiontime    timestamptz NOT NULL DEFAULT now(),
    lastheardfromtime timestamptz,
    location_long     double precision NOT NULL DEFAULT 0,
    location_lat      double precision NOT NULL DEFAULT 0,
    UNIQUE (colonyid, executorname)
);

CREATE TABLE functions (
    functionid  text PRIMARY KEY,
    executorid  text NOT NULL REFERENCES executors ON DELETE CASCADE,
    colonyid    text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    funcname    text NOT NULL,
    descr       text NOT NULL DEFAULT '',
    args        jsonb NOT NULL DEFAULT '[]',
    counter     bigint NOT NULL DEFAULT 0,
    minwaittime double precision NOT NULL DEFAULT 0,
    maxwaittime double precision NOT NULL DEFAULT 0,
    minexectime double precision NOT NULL DEFAULT 0,
    maxexectime double precision NOT NULL DEFAULT 0,
    avgwaittime double precision NOT NULL DEFAULT 0,
    avgexectime double precision NOT NULL DEFAULT 0,
    UNIQUE (executorid, funcname)
);
CREATE INDEX functions_colony_idx ON functions (colonyid);

CREATE TABLE processes (
    processid          text PRIMARY KEY,
    colonyid           text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    executortype       text NOT NULL,
    executorids        text[] NOT NULL DEFAULT '{}',
    state              smallint NOT NULL DEFAULT 0,
    isassigned         boolean NOT NULL DEFAULT false,
    assignedexecutorid text NOT NULL DEFAULT '',
    -- Bumped by every assignment, so a close or deadline reset can name the attempt it
    -- acts on and a stale executor cannot close a process handed to someone else.
    attempt            integer NOT NULL DEFAULT 0,
    prioritytime       bigint NOT NULL,
    submissiontime     timestamptz NOT NULL DEFAULT now(),
    starttime          timestamptz,
    endtime            timestamptz,
    waitdeadline       timestamptz,
    execdeadline       timestamptz,
    retries            integer NOT NULL DEFAULT 0,
    maxretries         integer NOT NULL DEFAULT 0,
    maxexectime        integer NOT NULL DEFAULT 0,
    maxwaittime        integer NOT NULL DEFAULT 0,
    waitforparents     boolean NOT NULL DEFAULT false,
    parents            text[] NOT NULL DEFAULT '{}',
    children           text[] NOT NULL DEFAULT '{}',
    processgraphid     text NOT NULL DEFAULT '',
    spec               jsonb NOT NULL,
    input              jsonb NOT NULL DEFAULT '[]',
    output             jsonb NOT NULL DEFAULT '[]',
    errors             jsonb NOT NULL DEFAULT '[]'
);
-- The assign claim walks this index in priority order and skips locked rows.
CREATE INDEX processes_queue_idx ON processes (colonyid, executortype, prioritytime)
    WHERE state = 0 AND NOT waitforparents;
CREATE INDEX processes_execdeadline_idx ON processes (execdeadline) WHERE state = 1;
CREATE INDEX processes_waitdeadline_idx ON processes (waitdeadline) WHERE state = 0;
CREATE INDEX processes_colony_state_idx ON processes (colonyid, state, submissiontime);
CREATE INDEX processes_graph_idx ON processes (processgraphid) WHERE processgraphid <> '';

CREATE TABLE attributes (
    attributeid          text PRIMARY KEY,
    targetid             text NOT NULL REFERENCES processes (processid) ON DELETE CASCADE,
    targetcolonyid       text NOT NULL,
    targetprocessgraphid text NOT NULL DEFAULT '',
    attributetype        smallint NOT NULL,
    key                  text NOT NULL,
    value                text NOT NULL,
    added                timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX attributes_target_idx ON attributes (targetid, added);

-- A process's attributes in the wire shape, for every query that returns a process.
CREATE FUNCTION process_attributes(pid text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'attributeid', a.attributeid, 'targetid', a.targetid,
               'targetcolonyid', a.targetcolonyid,
               'targetprocessgraphid', a.targetprocessgraphid,
               'attributetype', a.attributetype, 'key', a.key, 'value', a.value)
           ORDER BY a.added), '[]'::jsonb)
    FROM attributes a WHERE a.targetid = pid
$$;

-- The input of a workflow member: its parents' outputs concatenated in parent order.
CREATE FUNCTION parents_output(parent_ids text[]) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(o.value ORDER BY p.ord, o.ord), '[]'::jsonb)
    FROM unnest(parent_ids) WITH ORDINALITY AS p(id, ord)
    JOIN processes pp ON pp.processid = p.id
    CROSS JOIN LATERAL jsonb_array_elements(pp.output) WITH ORDINALITY AS o(value, ord)
$$;
