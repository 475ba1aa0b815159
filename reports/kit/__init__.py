"""What every report shares: `document` (a small document model rendered to HTML and Markdown), `style`
(figure style), `fmt` (number formats), `files` (figures written as PNG and SVG), `page` (the report
folder and the blocks every page has)."""
