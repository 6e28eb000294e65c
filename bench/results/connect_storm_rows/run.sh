#!/bin/bash
# Before and after the snapshots and the session read as rows, alternately: gevent, one
# instance, storms of 500 and 1,000, twice each per run. /tmp/before-tree is the tree at
# 44981c8 (the commit before) with this commit's bench/connect_storm.py (it adds the
# server's CPU per client):
#   mkdir /tmp/before-tree && git archive 44981c8 | tar -x -C /tmp/before-tree
#   cp bench/connect_storm.py /tmp/before-tree/bench/
# Run from the repository root; writes bench/results/connect_storm_rows/{before,after}_N.json.
out=$(pwd)/bench/results/connect_storm_rows
for i in 1 2 3; do
  (cd /tmp/before-tree && /work/main/.venv/bin/python -m bench.connect_storm --modes gevent --no-two-instances --no-node --clients 500,1000 --repeats 2 --label "before $i" --output $out/before_$i.json > $out/before_$i.log 2>&1)
  (cd /work/main && .venv/bin/python -m bench.connect_storm --modes gevent --no-two-instances --no-node --clients 500,1000 --repeats 2 --label "after $i" --output $out/after_$i.json > $out/after_$i.log 2>&1)
done
