-- Every SQL statement of colonies_ha, one named block each ("-- name: <name>").
-- Parameters use psycopg's %(name)s style.  Statements that lock say why.

-- name: fence_lock_shared
-- Leader-only transactions hold the fencing lock in shared mode for their whole life, so a
-- new leader's epoch bump (exclusive) waits for them and none can commit after it.
SELECT pg_advisory_xact_lock_shared(7411001);

-- name: fence_epoch
SELECT epoch FROM leader WHERE id = 1;

-- name: fence_lock_exclusive
SELECT pg_advisory_xact_lock(7411001);

-- name: lock_membership_changes
-- First in a transaction that rejects or removes executors or users (or their colony): the
-- leader's claims hold this lock shared while they admit waiters (migration 0010), so a
-- claim either sees the change or commits before it, and the change's requeue sees it.
SELECT pg_advisory_xact_lock(7411003);

-- name: bump_epoch
UPDATE leader SET epoch = epoch + 1, term = %(term)s, nodeid = %(nodeid)s,
                  api_url = %(api_url)s, since = now()
WHERE id = 1
RETURNING epoch;

-- name: get_leader
SELECT epoch, term, nodeid, api_url, since FROM leader WHERE id = 1;

-- name: announce_replica
INSERT INTO replicas (raft_address, node_name, api_url)
VALUES (%(raft_address)s, %(node_name)s, %(api_url)s)
ON CONFLICT (raft_address) DO UPDATE
SET node_name = excluded.node_name, api_url = excluded.api_url, last_seen = now();

-- name: get_replicas
SELECT raft_address, node_name, api_url, started, last_seen FROM replicas
ORDER BY raft_address;

-- name: db_now
-- The database's clock, for the NOTIFY listener's proof of life.
SELECT now();

-- name: notify
SELECT pg_notify('colonies_ha', %(payload)s);

-- name: insert_colony
INSERT INTO colonies (colonyid, name) VALUES (%(colonyid)s, %(name)s)
ON CONFLICT DO NOTHING
RETURNING colonyid, name;

-- name: delete_colony
DELETE FROM colonies WHERE colonyid = %(colonyid)s RETURNING colonyid;

-- name: get_colonies
SELECT colonyid, name FROM colonies ORDER BY name;

-- name: get_colony
SELECT colonyid, name FROM colonies WHERE colonyid = %(colonyid)s;

-- name: insert_executor
INSERT INTO executors (executorid, colonyid, executortype, executorname, requirefuncreg,
                       location_long, location_lat)
VALUES (%(executorid)s, %(colonyid)s, %(executortype)s, %(executorname)s, %(requirefuncreg)s,
        %(long)s, %(lat)s)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: get_executor
-- With its colony's name: the newest generation addresses colonies by name.
SELECT e.*, c.name AS colonyname
FROM executors e JOIN colonies c USING (colonyid) WHERE e.executorid = %(executorid)s;

-- name: get_executor_by_name
SELECT e.*, c.name AS colonyname
FROM executors e JOIN colonies c USING (colonyid)
WHERE e.colonyid = %(colonyid)s AND e.executorname = %(executorname)s;

-- name: get_executors_by_id
-- get_executor for the callers of several concurrent requests (coalesced membership checks).
SELECT e.*, c.name AS colonyname
FROM executors e JOIN colonies c USING (colonyid)
WHERE e.executorid = ANY (%(executorids)s::text[]);

-- name: get_executors
SELECT e.*, c.name AS colonyname
FROM executors e JOIN colonies c USING (colonyid)
WHERE e.colonyid = %(colonyid)s ORDER BY e.executorname;

-- name: executor_ids_by_names
SELECT executorid, executorname FROM executors
WHERE colonyid = %(colonyid)s AND executorname = ANY (%(names)s);

-- name: set_executor_state
UPDATE executors SET state = %(state)s WHERE executorid = %(executorid)s RETURNING executorid;

-- name: delete_executor
DELETE FROM executors WHERE executorid = %(executorid)s RETURNING executorid;

-- name: insert_function
INSERT INTO functions (functionid, executorid, colonyid, funcname, descr, args)
VALUES (%(functionid)s, %(executorid)s, %(colonyid)s, %(funcname)s, %(desc)s, %(args)s)
ON CONFLICT (executorid, funcname) DO NOTHING
RETURNING *;

-- name: get_function
SELECT f.*, e.executorname, e.executortype, c.name AS colonyname
FROM functions f JOIN executors e USING (executorid) JOIN colonies c ON c.colonyid = f.colonyid
WHERE f.functionid = %(functionid)s;

-- name: get_functions_by_executor
SELECT f.*, e.executorname, e.executortype, c.name AS colonyname
FROM functions f JOIN executors e USING (executorid) JOIN colonies c ON c.colonyid = f.colonyid
WHERE f.executorid = %(executorid)s ORDER BY f.funcname;

-- name: get_functions_by_colony
SELECT f.*, e.executorname, e.executortype, c.name AS colonyname
FROM functions f JOIN executors e USING (executorid) JOIN colonies c ON c.colonyid = f.colonyid
WHERE f.colonyid = %(colonyid)s ORDER BY f.funcname, f.executorid;

-- name: delete_function
DELETE FROM functions WHERE functionid = %(functionid)s RETURNING functionid;

-- name: insert_process
INSERT INTO processes (processid, colonyid, executortype, executorids, prioritytime,
                       submissiontime, waitdeadline, maxretries, maxexectime, maxwaittime,
                       waitforparents, parents, children, processgraphid, spec, input,
                       initiatorid, initiatorname)
VALUES (%(processid)s, %(colonyid)s, %(executortype)s, %(executorids)s, %(prioritytime)s,
        %(submissiontime)s, %(waitdeadline)s, %(maxretries)s, %(maxexectime)s,
        %(maxwaittime)s, %(waitforparents)s, %(parents)s, %(children)s, %(processgraphid)s,
        %(spec)s, %(input)s, %(initiatorid)s, %(initiatorname)s);

-- name: submit_process
-- A plain submit (no ENV attributes) in one statement, hence one implicit transaction: the
-- row and its NOTIFY (the payload of colonies_ha.cluster.events.event_of), at commit.
WITH inserted AS (
    INSERT INTO processes (processid, colonyid, executortype, executorids, prioritytime,
                           submissiontime, waitdeadline, maxretries, maxexectime, maxwaittime,
                           waitforparents, parents, children, processgraphid, spec, input,
                           initiatorid, initiatorname)
    VALUES (%(processid)s, %(colonyid)s, %(executortype)s, %(executorids)s, %(prioritytime)s,
            %(submissiontime)s, %(waitdeadline)s, %(maxretries)s, %(maxexectime)s,
            %(maxwaittime)s, %(waitforparents)s, %(parents)s, %(children)s, %(processgraphid)s,
            %(spec)s, %(input)s, %(initiatorid)s, %(initiatorname)s)
    RETURNING processid, colonyid, executortype, state, processgraphid
)
SELECT pg_notify('colonies_ha', json_build_object(
           'processid', processid, 'colonyid', colonyid, 'executortype', executortype,
           'state', state, 'processgraphid', processgraphid)::text)
FROM inserted;

-- name: insert_attribute
INSERT INTO attributes (attributeid, targetid, targetcolonyid, targetprocessgraphid,
                        attributetype, key, value)
VALUES (%(attributeid)s, %(targetid)s, %(targetcolonyid)s, %(targetprocessgraphid)s,
        %(attributetype)s, %(key)s, %(value)s)
RETURNING attributeid, targetid, targetcolonyid, targetprocessgraphid, attributetype,
          key, value;

-- name: add_attribute_as_assignee
-- Only the executor running the process may annotate it; the WHERE is the check.
INSERT INTO attributes (attributeid, targetid, targetcolonyid, targetprocessgraphid,
                        attributetype, key, value)
SELECT %(attributeid)s, p.processid, p.colonyid, p.processgraphid,
       %(attributetype)s, %(key)s, %(value)s
FROM processes p
WHERE p.processid = %(targetid)s AND p.state = 1 AND p.assignedexecutorid = %(executorid)s
RETURNING attributeid, targetid, targetcolonyid, targetprocessgraphid, attributetype,
          key, value;

-- name: get_attribute
SELECT attributeid, targetid, targetcolonyid, targetprocessgraphid, attributetype, key, value
FROM attributes WHERE attributeid = %(attributeid)s;

-- name: get_process
SELECT *, process_attributes(processid) AS attributes
FROM processes WHERE processid = %(processid)s;

-- name: processes_changed_since
-- A WebSocket stream's catch-up after its replica's LISTEN connection was lost: the
-- processes of the colony that reached the state since the listener was last known alive.
SELECT p.*, process_attributes(p.processid) AS attributes FROM processes p
WHERE colonyid = %(colonyid)s AND state = %(state)s AND statechangetime >= %(since)s
  AND (%(executortype)s = '' OR executortype = %(executortype)s)
ORDER BY statechangetime
LIMIT %(limit)s;

-- name: close_successful
-- Compare-and-set on (running, assignee): a stale or foreign close changes nothing.  The
-- same statement updates the running statistics of the function the assignee registered
-- under this name (its row lock serialises closes by one executor of one function) and
-- queues the NOTIFY, so a close is one round trip inside its transaction.
WITH closed AS (
    UPDATE processes SET state = 2, endtime = now(), execdeadline = NULL, output = %(out)s
    WHERE processid = %(processid)s AND state = 1 AND assignedexecutorid = %(executorid)s
    RETURNING *, process_attributes(processid) AS attributes
), run AS (
    SELECT greatest(extract(epoch FROM c.starttime - c.submissiontime), 0)::float8 AS w,
           greatest(extract(epoch FROM c.endtime - c.starttime), 0)::float8 AS e,
           c.assignedexecutorid, coalesce(c.spec->>'funcname', '') AS funcname
    FROM closed c
), stats AS (
    UPDATE functions f SET
        counter     = f.counter + 1,
        minwaittime = CASE WHEN f.counter = 0 THEN v.w ELSE least(f.minwaittime, v.w) END,
        maxwaittime = greatest(f.maxwaittime, v.w),
        minexectime = CASE WHEN f.counter = 0 THEN v.e ELSE least(f.minexectime, v.e) END,
        maxexectime = greatest(f.maxexectime, v.e),
        avgwaittime = (f.avgwaittime * f.counter + v.w) / (f.counter + 1),
        avgexectime = (f.avgexectime * f.counter + v.e) / (f.counter + 1)
    FROM run v
    WHERE f.executorid = v.assignedexecutorid AND f.funcname = v.funcname
)
SELECT c.*, pg_notify('colonies_ha', json_build_object(
           'processid', c.processid, 'colonyid', c.colonyid, 'executortype', c.executortype,
           'state', c.state, 'processgraphid', c.processgraphid)::text) AS notified
FROM closed c;

-- name: close_failed
WITH closed AS (
    UPDATE processes SET state = 3, endtime = now(), execdeadline = NULL, errors = %(errors)s
    WHERE processid = %(processid)s AND state = 1 AND assignedexecutorid = %(executorid)s
    RETURNING *, process_attributes(processid) AS attributes
)
SELECT c.*, pg_notify('colonies_ha', json_build_object(
           'processid', c.processid, 'colonyid', c.colonyid, 'executortype', c.executortype,
           'state', c.state, 'processgraphid', c.processgraphid)::text) AS notified
FROM closed c;

-- name: submit_processes
-- Group commit of plain submits (colonies_ha.services.batches): the rows of several requests,
-- as one JSON array of submit_process's columns, in one statement and one implicit
-- transaction, each with its NOTIFY.  A failure fails them all; the caller then stores them
-- one by one, so each request gets its own error.
WITH inserted AS (
    INSERT INTO processes (processid, colonyid, executortype, executorids, prioritytime,
                           submissiontime, waitdeadline, maxretries, maxexectime, maxwaittime,
                           waitforparents, parents, children, processgraphid, spec, input,
                           initiatorid, initiatorname)
    SELECT processid, colonyid, executortype, executorids, prioritytime,
           submissiontime, waitdeadline, maxretries, maxexectime, maxwaittime,
           waitforparents, parents, children, processgraphid, spec, input,
           initiatorid, initiatorname
    FROM jsonb_populate_recordset(NULL::processes, %(rows)s)
    RETURNING processid, colonyid, executortype, state, processgraphid
)
-- One NOTIFY per 20 rows, listing their events (a payload stays far below the 8,000 bytes
-- NOTIFY takes); every replica's listener then wakes once per 20 rows, not once per row.
SELECT pg_notify('colonies_ha', json_agg(json_build_object(
           'processid', processid, 'colonyid', colonyid, 'executortype', executortype,
           'state', state, 'processgraphid', processgraphid))::text)
FROM (SELECT *, (row_number() OVER () - 1) / 20 AS chunk FROM inserted) AS numbered
GROUP BY chunk;

-- name: close_processes
-- Group commit of closes: the same compare-and-set as close_successful / close_failed, per
-- row (running, and assigned to the executor that closes it).  Only processes outside a
-- workflow are closed here (a graph member needs the graph lock and its release of
-- children); a request whose row is not returned goes the one-by-one way, which closes
-- graph members and explains a refusal.  The caller passes each process at most once.  The
-- function statistics are folded per (executor, function) first, so two closes of one
-- function in a batch count twice (an UPDATE … FROM updates a row once).
WITH req AS (
    SELECT * FROM jsonb_to_recordset(%(closes)s)
        AS r(processid text, executorid text, state smallint, output jsonb, errors jsonb)
), closed AS (
    UPDATE processes p SET state = r.state, endtime = now(), execdeadline = NULL,
        output = CASE WHEN r.state = 2 THEN r.output ELSE p.output END,
        errors = CASE WHEN r.state = 3 THEN r.errors ELSE p.errors END
    FROM req r
    WHERE p.processid = r.processid AND p.state = 1 AND p.assignedexecutorid = r.executorid
      AND p.processgraphid = ''
    RETURNING p.processid, p.colonyid, p.executortype, p.state, p.processgraphid,
              p.assignedexecutorid, coalesce(p.spec->>'funcname', '') AS funcname,
              greatest(extract(epoch FROM p.starttime - p.submissiontime), 0)::float8 AS w,
              greatest(extract(epoch FROM p.endtime - p.starttime), 0)::float8 AS e
), run AS (
    SELECT assignedexecutorid, funcname, count(*) AS n,
           min(w) AS minw, max(w) AS maxw, sum(w) AS sumw,
           min(e) AS mine, max(e) AS maxe, sum(e) AS sume
    FROM closed WHERE state = 2
    GROUP BY assignedexecutorid, funcname
), stats AS (
    UPDATE functions f SET
        counter     = f.counter + v.n,
        minwaittime = CASE WHEN f.counter = 0 THEN v.minw ELSE least(f.minwaittime, v.minw) END,
        maxwaittime = greatest(f.maxwaittime, v.maxw),
        minexectime = CASE WHEN f.counter = 0 THEN v.mine ELSE least(f.minexectime, v.mine) END,
        maxexectime = greatest(f.maxexectime, v.maxe),
        avgwaittime = (f.avgwaittime * f.counter + v.sumw) / (f.counter + v.n),
        avgexectime = (f.avgexectime * f.counter + v.sume) / (f.counter + v.n)
    FROM run v
    WHERE f.executorid = v.assignedexecutorid AND f.funcname = v.funcname
), notified AS (
    -- One NOTIFY per 20 closed rows, listing their events (see submit_processes).
    SELECT count(pg_notify('colonies_ha', events::text)) AS notifies
    FROM (SELECT json_agg(json_build_object(
                     'processid', processid, 'colonyid', colonyid,
                     'executortype', executortype, 'state', state,
                     'processgraphid', processgraphid)) AS events
          FROM (SELECT *, (row_number() OVER () - 1) / 20 AS chunk FROM closed) AS numbered
          GROUP BY chunk) AS grouped
)
SELECT c.processid, n.notifies FROM closed c, notified n;

-- name: claim_for_waiters
-- The leader's claim for one or more waiting assigns of one colony and executor type, with
-- its fencing check, in one statement (function claim_for_waiters, migration 0009): the
-- claimed processes, and earlier claims of relayed receipts, one row each.
SELECT (c.process).*, c.attributes, c.redelivered
FROM claim_for_waiters(%(epoch)s, %(colonyid)s, %(executortype)s,
                       %(executorids)s::text[], %(receipts)s::text[]) AS c;

-- name: list_processes
-- An empty executortype (what clients of the protocol send, by leaving it out) lists all.
SELECT *, process_attributes(processid) AS attributes FROM processes
WHERE colonyid = %(colonyid)s AND state = %(state)s
  AND (%(executortype)s = '' OR executortype = %(executortype)s)
ORDER BY CASE WHEN state = 0 THEN prioritytime END,
         coalesce(endtime, starttime, submissiontime) DESC
LIMIT %(count)s;

-- name: process_history
SELECT *, process_attributes(processid) AS attributes FROM processes
WHERE colonyid = %(colonyid)s AND state = %(state)s
  AND submissiontime > now() - make_interval(secs => %(seconds)s)
  AND (%(executorid)s = '' OR assignedexecutorid = %(executorid)s)
ORDER BY submissiontime DESC;

-- name: delete_process
DELETE FROM processes WHERE processid = %(processid)s RETURNING processid;

-- name: delete_all_processes
-- A negative state removes every process of the colony, else those in that state.
DELETE FROM processes
WHERE colonyid = %(colonyid)s AND (%(state)s < 0 OR state = %(state)s);

-- name: requeue_expired_runs
-- Runs past their execution deadline with retries left go back to the queue.  The
-- state/deadline predicate is the compare-and-set: a close that won the race is kept.
UPDATE processes SET state = 0, isassigned = false, assignedexecutorid = '',
                     starttime = NULL, execdeadline = NULL, retries = retries + 1
WHERE state = 1 AND execdeadline < now()
  AND NOT (maxretries > -1 AND retries >= maxretries)
RETURNING *;

-- name: requeue_runs_of_executor
-- An executor that is rejected or removed gives back what it is running: upstream refuses
-- its later close, log or output, and a removed one would hold the process forever.  The
-- state/assignee predicate is the compare-and-set (a close that won the race is kept).
UPDATE processes SET state = 0, isassigned = false, assignedexecutorid = '',
                     starttime = NULL, execdeadline = NULL
WHERE state = 1 AND assignedexecutorid = %(executorid)s
RETURNING *;

-- name: fail_expired_runs
UPDATE processes SET state = 3, endtime = now(), execdeadline = NULL,
                     errors = errors || to_jsonb(%(message)s::text)
WHERE state = 1 AND execdeadline < now() AND maxretries > -1 AND retries >= maxretries
  AND processgraphid = ''
RETURNING *;

-- name: fail_expired_waits
UPDATE processes SET state = 3, endtime = now(),
                     errors = errors || to_jsonb(%(message)s::text)
WHERE state = 0 AND waitdeadline < now() AND processgraphid = ''
RETURNING *;

-- name: colony_statistics
SELECT (SELECT count(*) FROM colonies WHERE colonyid = %(colonyid)s) AS colonies,
       (SELECT count(*) FROM executors WHERE colonyid = %(colonyid)s) AS executors,
       p.*, g.*
FROM (SELECT count(*) FILTER (WHERE state = 0) AS waitingprocesses,
             count(*) FILTER (WHERE state = 1) AS runningprocesses,
             count(*) FILTER (WHERE state = 2) AS successfulprocesses,
             count(*) FILTER (WHERE state = 3) AS failedprocesses
      FROM processes WHERE colonyid = %(colonyid)s) AS p,
     (SELECT count(*) FILTER (WHERE state = 0) AS waitingworkflows,
             count(*) FILTER (WHERE state = 1) AS runningworkflows,
             count(*) FILTER (WHERE state = 2) AS successfulworkflows,
             count(*) FILTER (WHERE state = 3) AS failedworkflows
      FROM processgraphs WHERE colonyid = %(colonyid)s) AS g;

-- name: global_statistics
SELECT (SELECT count(*) FROM colonies) AS colonies,
       (SELECT count(*) FROM executors) AS executors,
       p.*, g.*
FROM (SELECT count(*) FILTER (WHERE state = 0) AS waitingprocesses,
             count(*) FILTER (WHERE state = 1) AS runningprocesses,
             count(*) FILTER (WHERE state = 2) AS successfulprocesses,
             count(*) FILTER (WHERE state = 3) AS failedprocesses
      FROM processes) AS p,
     (SELECT count(*) FILTER (WHERE state = 0) AS waitingworkflows,
             count(*) FILTER (WHERE state = 1) AS runningworkflows,
             count(*) FILTER (WHERE state = 2) AS successfulworkflows,
             count(*) FILTER (WHERE state = 3) AS failedworkflows
      FROM processgraphs) AS g;

-- name: process_graph_of
SELECT processgraphid FROM processes WHERE processid = %(processid)s;

-- name: insert_processgraph
INSERT INTO processgraphs (processgraphid, colonyid, rootprocessids, submissiontime,
                           initiatorid, initiatorname)
VALUES (%(processgraphid)s, %(colonyid)s, %(rootprocessids)s, %(submissiontime)s,
        %(initiatorid)s, %(initiatorname)s)
RETURNING *;

-- name: lock_processgraph
-- Every transaction that changes members of a graph takes this row lock FIRST and member
-- rows after it.  One order everywhere means no deadlocks, and serialising a graph's
-- changes means two parents closing at once cannot both miss releasing their child.
SELECT * FROM processgraphs WHERE processgraphid = %(processgraphid)s FOR UPDATE;

-- name: get_processgraph
SELECT g.*, c.name AS colonyname
FROM processgraphs g JOIN colonies c USING (colonyid)
WHERE g.processgraphid = %(processgraphid)s;

-- name: list_processgraphs
-- A negative state (the newest generation's "any") lists every state.
SELECT g.*, c.name AS colonyname
FROM processgraphs g JOIN colonies c USING (colonyid)
WHERE g.colonyid = %(colonyid)s AND (%(state)s < 0 OR g.state = %(state)s)
ORDER BY g.submissiontime DESC LIMIT %(count)s;

-- name: graph_members
SELECT processid, processgraphid, state, parents, children, spec ->> 'nodename' AS nodename
FROM processes WHERE processgraphid = ANY (%(graphids)s)
ORDER BY prioritytime, processid;

-- name: graph_leaf_outputs
-- Outputs of a finished graph's leaves, in submission order: the next cron run's input.
SELECT coalesce(jsonb_agg(o.value ORDER BY p.submissiontime, p.processid, o.ord), '[]')
       AS outputs
FROM processes p
CROSS JOIN LATERAL jsonb_array_elements(p.output) WITH ORDINALITY AS o(value, ord)
WHERE p.processgraphid = %(processgraphid)s AND cardinality(p.children) = 0;

-- name: delete_processgraph
WITH members AS (DELETE FROM processes WHERE processgraphid = %(processgraphid)s)
DELETE FROM processgraphs WHERE processgraphid = %(processgraphid)s RETURNING processgraphid;

-- name: delete_all_processgraphs
-- A negative state removes every graph of the colony, else the graphs in that state.
WITH doomed AS (
    SELECT processgraphid FROM processgraphs
    WHERE colonyid = %(colonyid)s AND (%(state)s < 0 OR state = %(state)s)
), members AS (
    DELETE FROM processes p USING doomed d WHERE p.processgraphid = d.processgraphid
)
DELETE FROM processgraphs g USING doomed d WHERE g.processgraphid = d.processgraphid;

-- name: release_children
-- Children whose parents have all succeeded become assignable.  Runs under the graph lock,
-- so the parents' states it reads include every close committed before it.
UPDATE processes c SET waitforparents = false
WHERE c.processid = ANY (%(children)s) AND c.waitforparents AND c.state = 0
  AND NOT EXISTS (
      SELECT 1 FROM processes p WHERE p.processid = ANY (c.parents) AND p.state <> 2)
RETURNING *;

-- name: fail_rest_of_graph
UPDATE processes SET state = 3, endtime = now(), execdeadline = NULL,
                     errors = errors || to_jsonb(%(message)s::text)
WHERE processgraphid = %(processgraphid)s AND state IN (0, 1)
RETURNING *;

-- name: refresh_graph_state
-- FAILED if any member failed, SUCCESSFUL if all succeeded, RUNNING if any ran, else WAITING.
UPDATE processgraphs g SET
    state = s.state,
    starttime = CASE WHEN s.state > 0 THEN coalesce(g.starttime, now()) END,
    endtime = CASE WHEN s.state >= 2 THEN coalesce(g.endtime, now()) END
FROM (
    SELECT CASE WHEN bool_or(state = 3) THEN 3
                WHEN bool_and(state = 2) THEN 2
                WHEN bool_or(state IN (1, 2)) THEN 1
                ELSE 0 END AS state
    FROM processes WHERE processgraphid = %(processgraphid)s
) AS s
WHERE g.processgraphid = %(processgraphid)s
RETURNING g.*;

-- name: set_relatives
UPDATE processes SET parents = %(parents)s, children = %(children)s
WHERE processid = %(processid)s;

-- name: expired_graph_members
-- Graph members past a deadline are failed one graph at a time (graph lock first), so the
-- failure reaches the rest of their graph; plain processes are handled in bulk.
SELECT processid, processgraphid FROM processes
WHERE processgraphid <> ''
  AND ((state = 1 AND execdeadline < now() AND maxretries > -1 AND retries >= maxretries)
       OR (state = 0 AND waitdeadline < now()));

-- name: fail_process_if_expired
UPDATE processes SET state = 3, endtime = now(), execdeadline = NULL,
                     errors = errors || to_jsonb(CASE WHEN state = 1 THEN %(exec_message)s
                                                      ELSE %(wait_message)s END::text)
WHERE processid = %(processid)s
  AND ((state = 1 AND execdeadline < now() AND maxretries > -1 AND retries >= maxretries)
       OR (state = 0 AND waitdeadline < now()))
RETURNING *;

-- name: insert_generator
INSERT INTO generators (generatorid, colonyid, name, workflowspec, trigger)
VALUES (%(generatorid)s, %(colonyid)s, %(name)s, %(workflowspec)s, %(trigger)s)
ON CONFLICT (colonyid, name) DO NOTHING
RETURNING *, 0::bigint AS queuesize;

-- name: get_generator
SELECT g.*, (SELECT count(*) FROM generator_args a WHERE a.generatorid = g.generatorid)
       AS queuesize
FROM generators g WHERE g.generatorid = %(generatorid)s;

-- name: resolve_generator
SELECT g.*, (SELECT count(*) FROM generator_args a WHERE a.generatorid = g.generatorid)
       AS queuesize
FROM generators g WHERE g.colonyid = %(colonyid)s AND g.name = %(name)s;

-- name: list_generators
SELECT g.*, (SELECT count(*) FROM generator_args a WHERE a.generatorid = g.generatorid)
       AS queuesize
FROM generators g WHERE g.colonyid = %(colonyid)s ORDER BY g.name LIMIT %(count)s;

-- name: delete_generator
DELETE FROM generators WHERE generatorid = %(generatorid)s RETURNING generatorid;

-- name: pack_generator_arg
INSERT INTO generator_args (generatorid, arg) VALUES (%(generatorid)s, %(arg)s);

-- name: generators_due
SELECT g.generatorid FROM generators g
JOIN (SELECT generatorid, count(*) AS queued FROM generator_args GROUP BY generatorid) q
  USING (generatorid)
WHERE q.queued >= g.trigger;

-- name: lock_generator
-- One scanner per generator at a time: a racing scanner skips it rather than waits, and the
-- holder sees the exact queue, so batches are always whole.
SELECT * FROM generators WHERE generatorid = %(generatorid)s FOR UPDATE SKIP LOCKED;

-- name: take_generator_args
-- Consumed in the same transaction as the workflows they start: never lost, never reused.
DELETE FROM generator_args WHERE seq IN (
    SELECT seq FROM generator_args WHERE generatorid = %(generatorid)s
    ORDER BY seq LIMIT %(count)s)
RETURNING seq, arg;

-- name: generator_ran
UPDATE generators SET lastrun = now() WHERE generatorid = %(generatorid)s;

-- name: insert_cron
INSERT INTO crons (cronid, colonyid, name, cronexpression, interval, random, workflowspec,
                   waitforprevprocessgraph)
VALUES (%(cronid)s, %(colonyid)s, %(name)s, %(cronexpression)s, %(interval)s, %(random)s,
        %(workflowspec)s, %(waitforprevprocessgraph)s)
ON CONFLICT (colonyid, name) DO NOTHING
RETURNING *;

-- name: get_cron
SELECT * FROM crons WHERE cronid = %(cronid)s;

-- name: list_crons
SELECT * FROM crons WHERE colonyid = %(colonyid)s ORDER BY name LIMIT %(count)s;

-- name: delete_cron
DELETE FROM crons WHERE cronid = %(cronid)s RETURNING cronid;

-- name: crons_to_schedule
SELECT cronid, cronexpression, interval, random FROM crons WHERE nextrun IS NULL;

-- name: schedule_cron
-- The first scan after adding only computes nextrun; the compare-and-set keeps a racing
-- scanner's value.
UPDATE crons SET nextrun = %(nextrun)s WHERE cronid = %(cronid)s AND nextrun IS NULL;

-- name: crons_due
SELECT cronid, nextrun FROM crons WHERE nextrun <= now();

-- name: lock_cron
SELECT * FROM crons WHERE cronid = %(cronid)s FOR UPDATE SKIP LOCKED;

-- name: lock_cron_wait
-- runcron waits for a scanner holding the row instead of skipping: a manual run must happen.
SELECT * FROM crons WHERE cronid = %(cronid)s FOR UPDATE;

-- name: cron_fired
-- Compare-and-set on the slot that fired, in the transaction that submitted its workflow.
UPDATE crons SET nextrun = %(nextrun)s, lastrun = now(), prevprocessgraphid = %(graphid)s
WHERE cronid = %(cronid)s AND nextrun IS NOT DISTINCT FROM %(due)s
RETURNING *;

-- name: queue_depth
-- Scraped by /metrics: only waiting and running processes, so the cost follows the queue,
-- not the history.
SELECT colonyid, executortype, state, count(*) AS count FROM processes
WHERE state IN (0, 1)
GROUP BY colonyid, executortype, state;

-- name: get_colony_by_name
SELECT colonyid, name FROM colonies WHERE name = %(colonyname)s;

-- name: membership
-- The newest generation's "member of the colony": the caller is an executor of the colony
-- (its state decides whether it counts) or one of its users.  One round trip.  The colony
-- is named by name (messages that name it) or by id (messages that name a process);
-- the other parameter is ''.
SELECT c.colonyid, c.name AS colonyname,
       e.executorid, e.executortype, e.executorname, e.state,
       u.userid, u.name AS username
FROM colonies c
LEFT JOIN executors e ON e.executorid = %(caller)s AND e.colonyid = c.colonyid
LEFT JOIN users u ON u.colonyid = c.colonyid AND u.userid = %(caller)s
WHERE c.name = %(colonyname)s OR c.colonyid = %(colonyid)s;

-- name: insert_user
INSERT INTO users (colonyid, userid, name, email, phone)
VALUES (%(colonyid)s, %(userid)s, %(name)s, %(email)s, %(phone)s)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: get_users
SELECT * FROM users WHERE colonyid = %(colonyid)s ORDER BY name;

-- name: get_user_by_name
SELECT * FROM users WHERE colonyid = %(colonyid)s AND name = %(name)s;

-- name: get_user_by_id
SELECT * FROM users WHERE colonyid = %(colonyid)s AND userid = %(userid)s;

-- name: delete_user
DELETE FROM users WHERE colonyid = %(colonyid)s AND name = %(name)s RETURNING userid;

-- name: list_processes_any
-- The newest generation's getprocessesmsg: state -1 means every state, and a process
-- graph, an initiator name or a label narrows the list.
SELECT *, process_attributes(processid) AS attributes FROM processes
WHERE colonyid = %(colonyid)s AND (%(state)s < 0 OR state = %(state)s)
  AND (%(executortype)s = '' OR executortype = %(executortype)s)
  AND (%(processgraphid)s = '' OR processgraphid = %(processgraphid)s)
  AND (%(initiator)s = '' OR initiatorname = %(initiator)s)
  AND (%(label)s = '' OR spec ->> 'label' = %(label)s)
ORDER BY submissiontime DESC
LIMIT %(count)s;

-- name: set_output
-- Only the assignee of a running process may set its output (the WHERE is the check).
UPDATE processes SET output = %(out)s
WHERE processid = %(processid)s AND state = 1 AND assignedexecutorid = %(executorid)s
RETURNING processid;

-- name: insert_log
-- Only the assignee of a running process may log to it (the WHERE is the check).
INSERT INTO logs (processid, colonyid, executorid, executorname, message, ts)
SELECT p.processid, p.colonyid, e.executorid, e.executorname, %(message)s, %(ts)s
FROM processes p JOIN executors e ON e.executorid = p.assignedexecutorid
WHERE p.processid = %(processid)s AND p.state = 1 AND p.assignedexecutorid = %(executorid)s
RETURNING seq;

-- name: logs_of_process
SELECT l.*, c.name AS colonyname FROM logs l JOIN colonies c USING (colonyid)
WHERE l.processid = %(processid)s AND l.ts > %(since)s
ORDER BY l.ts, l.seq LIMIT %(count)s;

-- name: logs_of_executor
SELECT l.*, c.name AS colonyname FROM logs l JOIN colonies c USING (colonyid)
WHERE l.colonyid = %(colonyid)s AND l.executorname = %(executorname)s AND l.ts > %(since)s
ORDER BY l.ts, l.seq LIMIT %(count)s;

-- == Current-generation extras: blueprints, files, snapshots, channels (migration 0007) ==

-- name: insert_blueprint_definition
-- The (colonyid, name) key decides a race between two adds: the loser gets no row.
INSERT INTO blueprint_definitions (definitionid, colonyid, name, kind, data)
VALUES (%(definitionid)s, %(colonyid)s, %(name)s, %(kind)s, %(data)s)
ON CONFLICT (colonyid, name) DO NOTHING
RETURNING data;

-- name: get_blueprint_definition
SELECT data FROM blueprint_definitions WHERE colonyid = %(colonyid)s AND name = %(name)s;

-- name: blueprint_definition_of_kind
-- The definition that governs a kind in the colony (names are unique, kinds need not be:
-- the first by name wins, as upstream's first match in name order).
SELECT data FROM blueprint_definitions WHERE colonyid = %(colonyid)s AND kind = %(kind)s
ORDER BY name LIMIT 1;

-- name: list_blueprint_definitions
SELECT data FROM blueprint_definitions WHERE colonyid = %(colonyid)s ORDER BY name;

-- name: delete_blueprint_definition
-- Refuses (no row) while blueprints of its kind exist; one statement, so a blueprint added
-- concurrently either is seen here or finds the definition gone.
DELETE FROM blueprint_definitions d
WHERE d.colonyid = %(colonyid)s AND d.name = %(name)s
  AND NOT EXISTS (SELECT 1 FROM blueprints b WHERE b.colonyid = d.colonyid AND b.kind = d.kind)
RETURNING d.kind;

-- name: count_blueprints_of_kind
SELECT count(*) AS count FROM blueprints WHERE colonyid = %(colonyid)s AND kind = %(kind)s;

-- name: insert_blueprint
INSERT INTO blueprints (blueprintid, colonyid, name, kind, locationname, data)
VALUES (%(blueprintid)s, %(colonyid)s, %(name)s, %(kind)s, %(locationname)s, %(data)s)
ON CONFLICT (colonyid, name) DO NOTHING
RETURNING data;

-- name: get_blueprint
SELECT blueprintid, colonyid, data FROM blueprints
WHERE colonyid = %(colonyid)s AND name = %(name)s;

-- name: lock_blueprint
-- Updates read-modify-write the document: the row lock orders concurrent ones.
SELECT blueprintid, colonyid, data FROM blueprints
WHERE colonyid = %(colonyid)s AND name = %(name)s FOR UPDATE;

-- name: get_blueprint_by_id
SELECT blueprintid, colonyid, data FROM blueprints WHERE blueprintid = %(blueprintid)s;

-- name: list_blueprints
-- Optional filters: '' means any kind; location only applies with a kind (as upstream),
-- compared without case.
SELECT data FROM blueprints
WHERE colonyid = %(colonyid)s
  AND (%(kind)s = '' OR kind = %(kind)s)
  AND (%(kind)s = '' OR %(locationname)s = '' OR lower(locationname) = lower(%(locationname)s))
ORDER BY name;

-- name: update_blueprint
UPDATE blueprints SET kind = %(kind)s, locationname = %(locationname)s, data = %(data)s
WHERE blueprintid = %(blueprintid)s
RETURNING data;

-- name: set_blueprint_status
-- Status only, in one statement: a reconciler's report never overwrites a concurrent spec
-- change.
UPDATE blueprints
SET data = jsonb_set(data, '{status}', %(status)s)
WHERE colonyid = %(colonyid)s AND name = %(name)s;

-- name: delete_blueprint
DELETE FROM blueprints WHERE colonyid = %(colonyid)s AND name = %(name)s
RETURNING blueprintid, kind, locationname;

-- name: count_blueprints_at_location
SELECT count(*) AS count FROM blueprints
WHERE colonyid = %(colonyid)s AND kind = %(kind)s AND locationname = %(locationname)s;

-- name: insert_blueprint_history
INSERT INTO blueprint_history (historyid, blueprintid, colonyid, kind, namespace, name,
                               generation, spec, status, changedby, changetype)
VALUES (%(historyid)s, %(blueprintid)s, %(colonyid)s, %(kind)s, %(namespace)s, %(name)s,
        %(generation)s, %(spec)s, %(status)s, %(changedby)s, %(changetype)s);

-- name: blueprint_history
-- Newest first; a limit of 0 means all (NULL: no LIMIT).
SELECT historyid, blueprintid, kind, namespace, name, generation, spec, status,
       "timestamp", changedby, changetype
FROM blueprint_history WHERE blueprintid = %(blueprintid)s
ORDER BY "timestamp" DESC
LIMIT %(limit)s;

-- name: delete_cron_by_name
DELETE FROM crons WHERE colonyid = %(colonyid)s AND name = %(name)s;

-- name: insert_file
INSERT INTO files (fileid, colonyid, label, name, size, checksum, checksumalg, ref)
VALUES (%(fileid)s, %(colonyid)s, %(label)s, %(name)s, %(size)s, %(checksum)s,
        %(checksumalg)s, %(ref)s)
RETURNING *;

-- name: get_file
SELECT * FROM files WHERE colonyid = %(colonyid)s AND fileid = %(fileid)s;

-- name: get_file_versions
-- Every version of a (label, name), newest first.
SELECT * FROM files
WHERE colonyid = %(colonyid)s AND label = %(label)s AND name = %(name)s
ORDER BY sequencenr DESC;

-- name: latest_files_in_label
-- The newest version of every file name under one label.
SELECT DISTINCT ON (name) * FROM files
WHERE colonyid = %(colonyid)s AND label = %(label)s
ORDER BY name, sequencenr DESC;

-- name: file_labels
-- Labels with their number of file versions; `prefix` '' lists all, else labels that start
-- with it; `exact` lists the label itself and those below it (label/...), and, as
-- upstream, nothing when the label itself holds no file.  LIKE wildcards in the prefix are
-- escaped by the caller.
SELECT label AS name, count(*) AS files FROM files
WHERE colonyid = %(colonyid)s
  AND (%(prefix)s = ''
       OR (NOT %(exact)s AND label LIKE %(prefix)s || '%%')
       OR (%(exact)s AND (label = %(label)s OR label LIKE %(prefix)s || '/%%')
           AND EXISTS (SELECT 1 FROM files f WHERE f.colonyid = %(colonyid)s
                                               AND f.label = %(label)s)))
GROUP BY label
ORDER BY label;

-- name: delete_file
DELETE FROM files WHERE colonyid = %(colonyid)s AND fileid = %(fileid)s;

-- name: delete_file_versions
DELETE FROM files WHERE colonyid = %(colonyid)s AND label = %(label)s AND name = %(name)s;

-- name: insert_snapshot
-- The newest version of every file under the label and its sub-labels, captured in the
-- same statement that stores the snapshot; a taken name leaves no row.  As upstream, the
-- sub-labels count only when the label itself holds a file.
INSERT INTO snapshots (snapshotid, colonyid, label, name, fileids)
SELECT %(snapshotid)s, %(colonyid)s, %(label)s, %(name)s,
       coalesce(array_agg(latest.fileid ORDER BY latest.label, latest.name), '{}')
FROM (
    SELECT DISTINCT ON (label, name) fileid, label, name FROM files
    WHERE colonyid = %(colonyid)s AND (label = %(label)s OR label LIKE %(sublabels)s)
      AND EXISTS (SELECT 1 FROM files f WHERE f.colonyid = %(colonyid)s
                                          AND f.label = %(label)s)
    ORDER BY label, name, sequencenr DESC
) AS latest
ON CONFLICT (colonyid, name) DO NOTHING
RETURNING *;

-- name: get_snapshot_by_id
SELECT * FROM snapshots WHERE colonyid = %(colonyid)s AND snapshotid = %(snapshotid)s;

-- name: get_snapshot_by_name
SELECT * FROM snapshots WHERE colonyid = %(colonyid)s AND name = %(name)s;

-- name: list_snapshots
SELECT * FROM snapshots WHERE colonyid = %(colonyid)s ORDER BY added DESC;

-- name: delete_snapshot
DELETE FROM snapshots
WHERE colonyid = %(colonyid)s AND (snapshotid = %(snapshotid)s OR name = %(name)s);

-- name: delete_all_snapshots
DELETE FROM snapshots WHERE colonyid = %(colonyid)s;

-- name: open_channel
-- Channels come into being on first use (the process declares them in spec.channels).
INSERT INTO channels (processid, name) VALUES (%(processid)s, %(name)s)
ON CONFLICT DO NOTHING;

-- name: lock_process_for_channel
-- FOR SHARE: a close (which updates the row) waits for this append to commit, or this
-- append sees the process finished; no entry can follow the close.
SELECT processid, colonyid, state, assignedexecutorid, initiatorid, spec FROM processes
WHERE processid = %(processid)s FOR SHARE;

-- name: channel_next_position
-- The row lock serialises appends to one channel, so positions stay dense and ordered.
UPDATE channels SET length = length + 1
WHERE processid = %(processid)s AND name = %(name)s AND length < %(max_entries)s
RETURNING length AS position;

-- name: insert_channel_entry
INSERT INTO channel_entries (processid, name, position, sequence, inreplyto, senderid,
                             payload, type)
VALUES (%(processid)s, %(name)s, %(position)s, %(sequence)s, %(inreplyto)s, %(senderid)s,
        %(payload)s, %(type)s);

-- name: read_channel
-- Entries after the first `afterseq` ones, in append order; a limit of NULL means all.
SELECT sequence, inreplyto, senderid, payload, type, added FROM channel_entries
WHERE processid = %(processid)s AND name = %(name)s AND position > %(afterseq)s
ORDER BY position
LIMIT %(limit)s;

-- name: notify_topic
-- Wakes waiters of one topic (a channel) on every replica, at commit.
SELECT pg_notify('colonies_ha_topics', %(topic)s);

-- name: ready_probe
-- A tiny write on this replica's own row, under a short statement_timeout set just before.
INSERT INTO ready_probes (node_name) VALUES (%(node_name)s)
ON CONFLICT (node_name) DO UPDATE SET probed = now();

-- name: session_setup
-- Every pooled session: bounded waits (see store/db.py for the values and why), read
-- committed (the fencing check must see the last committed bump), and commits that wait for
-- the synchronous standby even when the server's default was lowered to off/local.
SELECT set_config('statement_timeout', %(statement_timeout)s, false),
       set_config('lock_timeout', %(lock_timeout)s, false),
       set_config('idle_in_transaction_session_timeout', %(idle_timeout)s, false),
       set_config('default_transaction_isolation', 'read committed', false),
       CASE WHEN current_setting('synchronous_commit') IN ('off', 'local')
            THEN set_config('synchronous_commit', 'on', false) END;

-- name: epoch_bump_lock_timeout
-- The epoch bump waits for every transaction of the old epoch (bounded by their own
-- statement and idle timeouts), so it may wait longer than an ordinary lock.
SELECT set_config('lock_timeout', %(lock_timeout)s, true);

-- name: probe_statement_timeout
SELECT set_config('statement_timeout', %(statement_timeout)s, true);

-- name: replication_settings
-- What the start-up check needs to tell whether an acknowledged commit survives promotion.
SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('synchronous_commit') AS synchronous_commit,
       current_setting('synchronous_standby_names') AS synchronous_standby_names,
       (SELECT count(*) FROM pg_stat_replication
         WHERE sync_state IN ('sync', 'quorum')) AS sync_standbys,
       (SELECT count(*) FROM pg_stat_replication) AS standbys;
