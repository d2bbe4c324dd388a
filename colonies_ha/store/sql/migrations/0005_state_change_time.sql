-- When a process last changed state (or, for a graph member, became assignable).  A
-- replica whose LISTEN connection was lost re-reads the changes made since it was last
-- known to be listening, so a WebSocket stream misses nothing committed in the gap.
ALTER TABLE processes ADD COLUMN statechangetime timestamptz NOT NULL DEFAULT now();
