-- The leader's claim (migration 0009) admits each waiter again inside the statement: only
-- approved executors of the colony and executor type get a process.  The replicas now
-- remember admitted callers of submit and assign for a moment (services.member_cache)
-- instead of looking every one of them up, so a rejection or removal committed meanwhile is
-- caught here.  A claim holds the membership lock (7411003) in shared mode from before it
-- reads the executors to its commit; a rejection or removal takes it exclusively before it
-- changes anything and requeues the executor's runs (query lock_membership_changes).  So
-- either the claim reads the changed executor, or the change waits for the claim's commit
-- and its requeue then sees the claim: no process goes to an executor that can no longer
-- close it.  (Before this, the same race existed between the separate membership lookup
-- and the claim.)  An advisory lock, not row locks: nothing is written for it on the hot
-- path, and changes of membership are rare.  Everything else is 0009's function unchanged.
CREATE OR REPLACE FUNCTION claim_for_waiters(
    p_epoch bigint,
    p_colonyid text,
    p_executortype text,
    p_executorids text[],
    p_receipts text[]
) RETURNS TABLE (process processes, attributes jsonb, redelivered boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_epoch bigint;
    v_relayed boolean;            -- some waiter came through a follower (has a receipt)
    v_row processes;
    v_served text[] := '{}';      -- receipts whose earlier claim still stands
    v_waiting integer[] := '{}';  -- positions of the waiters still without a process
    v_pids text[] := '{}';        -- the pairs to claim: a process ...
    v_whom integer[] := '{}';     -- ... and the position of its waiter
    v_allowed text[];
    v_members text[];             -- the waiters still admitted: approved executors of the colony
    v_candidate record;
    v_limit integer;
    v_seen integer;
    v_paired integer;
    v_waiter integer;
    w integer;
BEGIN
    v_relayed := cardinality(array_remove(p_receipts, NULL)) > 0;
    -- The fencing lock first, then the receipts' locks in one fixed order (a claim never
    -- holds a receipt while it queues for the fencing lock behind a new leader's bump).
    PERFORM pg_advisory_xact_lock_shared(7411001);
    PERFORM pg_advisory_xact_lock_shared(7411003);  -- membership (see the top)
    IF v_relayed THEN
        PERFORM pg_advisory_xact_lock(7411002, ordered.h)
        FROM (SELECT DISTINCT hashtext(r) AS h FROM unnest(p_receipts) AS r
              WHERE r IS NOT NULL ORDER BY 1) AS ordered;
    END IF;
    SELECT epoch INTO v_epoch FROM leader WHERE id = 1;
    IF v_epoch IS DISTINCT FROM p_epoch THEN
        RAISE EXCEPTION 'the fencing epoch moved from % to %', p_epoch, v_epoch
            USING ERRCODE = 'CF001';
    END IF;

    -- Proof of life of every waiting executor (lastheardfromtime), whether served or not.
    UPDATE executors SET lastheardfromtime = now()
    WHERE executorid = ANY (p_executorids)
      AND (lastheardfromtime IS NULL OR lastheardfromtime < now() - interval '1 second');

    -- Earlier attempts' claims that still stand, read under the receipts' locks.
    IF v_relayed THEN
        FOR v_row IN
            SELECT p.* FROM processes p
            WHERE p.assign_receipt = ANY (p_receipts) AND p.state = 1
              AND p.assignedexecutorid
                  = p_executorids[array_position(p_receipts, p.assign_receipt)]
        LOOP
            v_served := v_served || v_row.assign_receipt;
            process := v_row;
            attributes := process_attributes(v_row.processid);
            redelivered := true;
            RETURN NEXT;
        END LOOP;
    END IF;
    -- Admission again: the replica admitted each waiter from a membership that may be a
    -- moment old (services.member_cache); read under the membership lock (see the top).
    v_members := ARRAY(
        SELECT executorid FROM executors
        WHERE executorid = ANY (p_executorids) AND colonyid = p_colonyid
          AND executortype = p_executortype AND state = 1);
    FOR i IN 1 .. coalesce(array_length(p_executorids, 1), 0) LOOP
        -- A served receipt, or a later attempt of one request: the first one's claim serves.
        CONTINUE WHEN p_receipts[i] IS NOT NULL
            AND (p_receipts[i] = ANY (v_served) OR array_position(p_receipts, p_receipts[i]) < i);
        CONTINUE WHEN NOT (p_executorids[i] = ANY (v_members));
        v_waiting := v_waiting || i;
    END LOOP;

    WHILE cardinality(v_waiting) > 0 LOOP
        v_allowed := ARRAY(SELECT p_executorids[x] FROM unnest(v_waiting) AS x);
        v_limit := cardinality(v_waiting);
        v_seen := 0;
        v_paired := 0;
        FOR v_candidate IN
            SELECT processid, executorids FROM processes
            WHERE colonyid = p_colonyid AND state = 0 AND NOT waitforparents
              AND executortype = p_executortype
              AND (executorids = '{}' OR executorids && v_allowed)
              AND processid <> ALL (v_pids)
            ORDER BY prioritytime
            LIMIT v_limit
            FOR UPDATE SKIP LOCKED
        LOOP
            v_seen := v_seen + 1;
            v_waiter := NULL;
            FOREACH w IN ARRAY v_waiting LOOP
                IF v_candidate.executorids = '{}'
                   OR p_executorids[w] = ANY (v_candidate.executorids) THEN
                    v_waiter := w;
                    EXIT;
                END IF;
            END LOOP;
            CONTINUE WHEN v_waiter IS NULL;
            v_pids := v_pids || v_candidate.processid;
            v_whom := v_whom || v_waiter;
            v_waiting := array_remove(v_waiting, v_waiter);
            v_paired := v_paired + 1;
        END LOOP;
        -- Fewer candidates than the limit: nothing more any of the waiters may take.  (A
        -- full round always pairs its first candidate; the second test is a safety net.)
        EXIT WHEN v_seen < v_limit OR v_paired = 0;
    END LOOP;
    IF cardinality(v_pids) = 0 THEN
        RETURN;
    END IF;

    RETURN QUERY
    WITH pick AS (
        SELECT k.pid, p_executorids[k.whom] AS executorid, p_receipts[k.whom] AS receipt
        FROM unnest(v_pids, v_whom) AS k(pid, whom)
    ), claimed AS (
        UPDATE processes p SET
            state = 1, isassigned = true, assignedexecutorid = k.executorid,
            attempt = p.attempt + 1, starttime = now(), assign_receipt = k.receipt,
            execdeadline = CASE WHEN p.maxexectime > 0
                                THEN now() + make_interval(secs => p.maxexectime) END,
            input = CASE WHEN cardinality(p.parents) > 0 THEN parents_output(p.parents)
                         ELSE p.input END
        FROM pick k
        WHERE p.processid = k.pid AND p.state = 0
        RETURNING p AS whole
    )
    SELECT c.whole, process_attributes((c.whole).processid), false FROM claimed c;

    -- One NOTIFY per 20 claims, listing their events (as the batched submits and closes).
    PERFORM pg_notify('colonies_ha', json_agg(json_build_object(
        'processid', p.processid, 'colonyid', p.colonyid, 'executortype', p.executortype,
        'state', p.state, 'processgraphid', p.processgraphid))::text)
    FROM (SELECT *, (row_number() OVER () - 1) / 20 AS chunk FROM processes
          WHERE processid = ANY (v_pids) AND state = 1) AS p
    GROUP BY p.chunk;
END
$$;
