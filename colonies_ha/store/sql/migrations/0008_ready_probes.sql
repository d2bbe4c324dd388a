-- /ready proves that a write still commits (a primary that accepts connections but waits
-- forever for a missing synchronous standby commits nothing): each replica upserts its own
-- row here, so probes of different replicas never wait on each other's row lock.
CREATE TABLE ready_probes (
    node_name text PRIMARY KEY,
    probed    timestamptz NOT NULL DEFAULT now()
);
