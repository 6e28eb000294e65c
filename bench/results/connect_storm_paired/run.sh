#!/bin/bash
# Before and after, alternately: gevent, one instance, 1,000 and 2,000 clients.
# /tmp/before-tree was a copy of the working tree (rsync, without .venv and .git) taken
# before commit 87a0f0e; today: mkdir /tmp/before-tree && git archive 87a0f0e^ | tar -x -C
# /tmp/before-tree, plus this commit's bench/*.py and bench/node. Run from the repository root.
mkdir -p /tmp/paired
for i in 1 2 3; do
  (cd /tmp/before-tree && /work/main/.venv/bin/python -m bench.connect_storm --modes gevent --no-two-instances --no-node --clients 1000,2000 --repeats 1 --label "before $i" --output /tmp/paired/before_$i.json > /tmp/paired/before_$i.log 2>&1)
  (cd /work/main && .venv/bin/python -m bench.connect_storm --modes gevent --no-two-instances --no-node --clients 1000,2000 --repeats 1 --label "after $i" --output /tmp/paired/after_$i.json > /tmp/paired/after_$i.log 2>&1)
done
