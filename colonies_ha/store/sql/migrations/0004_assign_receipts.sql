-- A follower relaying an assign names it with a receipt the leader stores with the claim.
-- If the leader then dies or freezes before the reply arrives, the follower waits for the
-- fencing epoch to move (no claim under the old epoch can commit after that) and looks the
-- receipt up: a claim that did commit is delivered, not left running until its deadline.
ALTER TABLE processes ADD COLUMN assign_receipt text;
CREATE INDEX processes_assign_receipt ON processes (assign_receipt)
    WHERE assign_receipt IS NOT NULL;
