#!/bin/bash
# After, then before, each beside Node in the same run: gevent, one instance, 500 and 1,000,
# three storms each. /tmp/before-tree as in run.sh. Run from the repository root.
out=$(pwd)/bench/results/connect_storm_rows
.venv/bin/python -m bench.connect_storm --modes gevent --no-two-instances --clients 500,1000 --repeats 3 --label "after: snapshots and session read as rows" --output $out/after_with_node.json > $out/after_with_node.log 2>&1
(cd /tmp/before-tree && /work/main/.venv/bin/python -m bench.connect_storm --modes gevent --no-two-instances --clients 500,1000 --repeats 3 --label "before (44981c8)" --output $out/before_with_node_2.json > $out/before_with_node_2.log 2>&1)
