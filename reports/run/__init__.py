"""The report of a `bench run` folder: `analysis` (the numbers shown), `figures` (data in, Figure out),
`charts` (which data each figure gets), `narrative` (sentences), `page` (the document and summary.json)."""
