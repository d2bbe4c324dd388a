-- No planner statistics for the payload columns of processes.  No query filters, joins or
-- sorts on spec, input, output or errors: they are carried, never searched.  Yet ANALYZE
-- sampled and summarised them on every autoanalyze of the busiest table, which under a
-- steady queue runs every few seconds and shares the CPU with the requests.  Measured on
-- 28-32k processes of the benchmark workload: ANALYZE processes took 0.75x the time
-- (benchmarks/README.md, *Issue 13, fourth stop*).
ALTER TABLE processes
    ALTER COLUMN spec SET STATISTICS 0,
    ALTER COLUMN input SET STATISTICS 0,
    ALTER COLUMN output SET STATISTICS 0,
    ALTER COLUMN errors SET STATISTICS 0;
