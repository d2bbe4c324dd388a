-- When a process last changed state (or, for a graph member, became assignable).  A
-- replica whose LISTEN connection was lost re-reads the changes made since it was last
-- known to be listening, so a WebSocket stream misses nothing committed in the gap.
-- A trigger stamps it, so no statement that changes a state can forget to.
ALTER TABLE processes ADD COLUMN statechangetime timestamptz NOT NULL DEFAULT now();

CREATE FUNCTION stamp_state_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.statechangetime := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER processes_state_change
    BEFORE UPDATE OF state, waitforparents ON processes
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state
          OR OLD.waitforparents IS DISTINCT FROM NEW.waitforparents)
    EXECUTE FUNCTION stamp_state_change();
