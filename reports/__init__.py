"""Reports: turn a run folder (bench run, bench tune or bench sessions) into HTML, Markdown, PNG/SVG and JSON;
compare runs.

Entry points: `reports.build.build_report(run_dir)`, `reports.compare.page.compare_runs(run_dirs, ...)`, and
`python -m reports` (see reports.cli). The records are read through bench.record (e.g.
`bench.record.results.load_results(path)`, `bench.record.run_folder.Run.open(run_dir)`).
"""
