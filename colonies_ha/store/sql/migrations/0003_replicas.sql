-- Replicas announce where their API and Raft ports are, so a follower can turn the Raft
-- leader's address into the URL it forwards leader-only requests to.
CREATE TABLE replicas (
    raft_address text PRIMARY KEY,
    node_name    text NOT NULL,
    api_url      text NOT NULL,
    started      timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE leader ADD COLUMN api_url text NOT NULL DEFAULT '';
