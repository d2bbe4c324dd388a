-- Plans the claim and the attribute lookup keep for the session, instead of planning their
-- statements again at every call.
--
-- * process_attributes becomes PL/pgSQL.  As a SQL function that cannot be inlined (it
--   aggregates), PostgreSQL 15 planned its query at every call, once per process returned
--   by a claim or a listing; PL/pgSQL keeps the plan for the session.  Same query, same
--   result.
-- * claim_for_waiters uses generic plans.  Several of its statements take arrays
--   (`= ANY (p_executorids)`, `unnest(v_pids, v_whom)`), for which the planner judged a
--   custom plan cheaper every time and so planned them again at every claim.  Their generic
--   plans are the same index lookups (primary keys; the candidate query, which walks the
--   partial queue index in priority order, already ran on its generic plan).
--
-- Measured at 500 signed cycles/s on one replica, three alternating rounds with
-- pg_stat_statements (track_planning on): planning 188 -> 16 us per cycle, the claim
-- 552 -> 402 us, PostgreSQL CPU 1,184 -> 1,058 us per cycle (benchmarks/README.md, *Issue 13,
-- fourth stop*).
CREATE OR REPLACE FUNCTION process_attributes(pid text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'attributeid', a.attributeid, 'targetid', a.targetid,
                   'targetcolonyid', a.targetcolonyid,
                   'targetprocessgraphid', a.targetprocessgraphid,
                   'attributetype', a.attributetype, 'key', a.key, 'value', a.value)
               ORDER BY a.added), '[]'::jsonb)
        FROM attributes a WHERE a.targetid = pid);
END
$$;

ALTER FUNCTION claim_for_waiters(bigint, text, text, text[], text[])
    SET plan_cache_mode = force_generic_plan;
