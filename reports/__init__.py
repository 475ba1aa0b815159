"""Reports: turn a run folder (bench run or bench tune) into HTML, Markdown, PNG/SVG and JSON; compare runs.

Entry points: `reports.build.build_report(run_dir)`, `reports.compare.compare_runs(run_dirs, ...)`,
`reports.results.load_results(path)`, and `python -m reports` (see reports.cli).
"""
