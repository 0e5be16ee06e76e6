#!/usr/bin/env python3
"""Times Python's graphlib.TopologicalSorter on a DAG file, for the `sched_vs_graphlib` example.

The file has one line per node: `i dep dep dep` (node `i` depends on the nodes listed after it). Parsing
is not timed. Timed, best of `--repeat` runs each:

- build: `TopologicalSorter()` and one `add(node, *deps)` per node, then `prepare()` (which checks
  for cycles);
- run: `get_ready()` / `done(*nodes)` until `is_active()` is false;
- total: build and run, the best of their sums;
- static_order: `list(TopologicalSorter(graph).static_order())`, building included.

Prints one JSON object on stdout: nodes, edges, rounds (get_ready calls) and the best seconds.

    python3 benches/sched_vs_graphlib.py FILE [--repeat 3]
"""

import argparse
import graphlib
import json
import time


def parse(path):
    graph = {}
    edges = 0
    with open(path) as file:
        for line in file:
            fields = line.split()
            if fields:
                node, *dependencies = map(int, fields)
                graph[node] = dependencies
                edges += len(dependencies)
    return graph, edges


def build(graph):
    sorter = graphlib.TopologicalSorter()
    for node, dependencies in graph.items():
        sorter.add(node, *dependencies)
    sorter.prepare()
    return sorter


def run(sorter):
    rounds = 0
    completed = 0
    while sorter.is_active():
        ready = sorter.get_ready()
        rounds += 1
        completed += len(ready)
        sorter.done(*ready)
    return rounds, completed


def main():
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("file")
    arguments.add_argument("--repeat", type=int, default=3)
    options = arguments.parse_args()
    graph, edges = parse(options.file)
    best = {key: float("inf") for key in ("build", "run", "total", "static_order")}
    rounds = completed = 0
    for _ in range(options.repeat):
        started = time.perf_counter()
        sorter = build(graph)
        built = time.perf_counter()
        rounds, completed = run(sorter)
        finished = time.perf_counter()
        best["build"] = min(best["build"], built - started)
        best["run"] = min(best["run"], finished - built)
        best["total"] = min(best["total"], finished - started)
        started = time.perf_counter()
        order = list(graphlib.TopologicalSorter(graph).static_order())
        best["static_order"] = min(best["static_order"], time.perf_counter() - started)
        assert completed == len(graph) == len(order), (completed, len(graph), len(order))
    print(json.dumps({"nodes": len(graph), "edges": edges, "rounds": rounds, "seconds": best}))


if __name__ == "__main__":
    main()
