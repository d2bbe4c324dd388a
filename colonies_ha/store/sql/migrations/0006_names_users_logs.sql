-- The newest protocol generation (pycolonies 1.0.12+) addresses colonies and executors by
-- name.  Both generations share one store: colonyid/executorid stay the internal keys of
-- every table, and the names they resolve from were already stored and unique since 0001
-- (colonies.name globally, executors (colonyid, executorname)), so no existing row can hold
-- a duplicate and no row needs renaming (both generations refuse empty names).

-- Users of a colony (newest generation): members like approved executors, but they submit
-- and read rather than run processes.  Name unique per colony, as upstream requires.
CREATE TABLE users (
    colonyid  text NOT NULL REFERENCES colonies ON DELETE CASCADE,
    userid    text NOT NULL,
    name      text NOT NULL CHECK (name <> ''),
    email     text NOT NULL DEFAULT '',
    phone     text NOT NULL DEFAULT '',
    PRIMARY KEY (colonyid, name),
    UNIQUE (colonyid, userid)
);
CREATE INDEX users_userid_idx ON users (userid);

-- Log lines an assignee attaches to its process (addlogmsg / getlogsmsg).  They go with
-- the process when it is removed.
CREATE TABLE logs (
    seq          bigserial PRIMARY KEY,
    processid    text NOT NULL REFERENCES processes ON DELETE CASCADE,
    colonyid     text NOT NULL,
    executorid   text NOT NULL,
    executorname text NOT NULL,
    message      text NOT NULL,
    ts           bigint NOT NULL  -- Unix time in nanoseconds, as the wire carries it
);
CREATE INDEX logs_process_idx ON logs (processid, ts);
CREATE INDEX logs_executor_idx ON logs (colonyid, executorname, ts);

-- Who submitted a process or workflow (the newest generation's process objects carry it;
-- rows from before stay '').
ALTER TABLE processes ADD COLUMN initiatorid text NOT NULL DEFAULT '';
ALTER TABLE processes ADD COLUMN initiatorname text NOT NULL DEFAULT '';
ALTER TABLE processgraphs ADD COLUMN initiatorid text NOT NULL DEFAULT '';
ALTER TABLE processgraphs ADD COLUMN initiatorname text NOT NULL DEFAULT '';

-- Specs stored before now name their colony by id only; the newest generation reads
-- conditions.colonyname, so give them the name (both keys are kept from now on).
UPDATE processes p
SET spec = jsonb_set(p.spec, '{conditions,colonyname}', to_jsonb(c.name))
FROM colonies c
WHERE c.colonyid = p.colonyid AND NOT (p.spec -> 'conditions' ? 'colonyname');
