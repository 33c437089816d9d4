-- Why: OVQ-attention (ovq.md) joins the variant families; a run's family is checked against the list the
-- engine can build, so the list grows with it.
-- Cost: replacing a CHECK constraint validates the existing run rows once (a scan, no rewrite); every
-- stored family is in the new list, so it cannot fail.

ALTER TABLE run DROP CONSTRAINT run_family_check;
ALTER TABLE run ADD CONSTRAINT run_family_check
    CHECK (family IN ('mha', 'gqa', 'mla', 'cca', 'ccgqa', 'ovq'));
