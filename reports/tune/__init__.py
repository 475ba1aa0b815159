"""The report of a `bench tune` folder: `figures`, `charts`, `narrative`, `page`, and `section` (the short
recommendation section a run report gains when a tune.json sits beside its results.json)."""
