-- Why: reproducibility. A run may ask for a deterministic backward (the spec's benchmark.deterministic or
-- training.deterministic); the worker records with STARTED whether the attempt's backward really was
-- deterministic (true: the same bits on every run, the CPU backend always, CUDA when the run or the worker's
-- -Dccalab.flash.deterministic asked; false: the CUDA backward's fp32 adds in atomic order), so that two
-- attempts' results can be told apart. NULL: not recorded (attempts of workers older than this column).
-- Cost: a nullable column without a default is a catalog-only change.

ALTER TABLE run_environment ADD COLUMN deterministic_backward boolean;
