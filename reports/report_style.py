"""The report's stylesheet: inlined so the page is one self-contained file.

Print first: A4 landscape, black text on white, no background colour that carries meaning
(met/missed also read as ✓/✗), each value stream starting on a new page and no card split
across pages.
"""

CSS = """
@page { size: A4 landscape; margin: 10mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Helvetica Neue", Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif;
       color: #1f2933; background: #fff; margin: 0 auto; padding: 16px 20px; max-width: 1400px;
       font-size: 13px; line-height: 1.35; }
header.report { display: flex; justify-content: space-between; align-items: baseline;
                border-bottom: 3px solid #0b4f7c; padding-bottom: 6px; margin-bottom: 10px; }
header.report h1 { font-size: 22px; margin: 0; }
header.report .meta { color: #3e4c59; text-align: right; }
h2 { font-size: 19px; margin: 0 0 8px; color: #0b4f7c; border-bottom: 1px solid #cbd2d9;
     padding-bottom: 3px; }
h3 { font-size: 14px; margin: 0 0 6px; }
p.note, .empty { color: #616e7c; margin: 4px 0; }
.empty { font-style: italic; }
nav.toc { margin: 6px 0 12px; }
nav.toc a { color: #0b4f7c; margin-right: 14px; }
section.stream { margin-top: 18px; }
.card { border: 1px solid #cbd2d9; border-radius: 4px; padding: 8px 10px; margin-bottom: 10px;
        break-inside: avoid; page-break-inside: avoid; background: #fff; }
.grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 10px; }
.grid.waits-rework { grid-template-columns: minmax(0, 1.25fr) minmax(0, 1fr); }
.grid > .card { margin-bottom: 0; }
.grid + .card, .grid + .grid { margin-top: 10px; }
.kpis { display: flex; flex-wrap: wrap; gap: 8px; margin: 6px 0 0; }
.kpi { border: 1px solid #cbd2d9; border-radius: 3px; padding: 4px 10px; min-width: 120px; }
.kpi .label { display: block; font-size: 11px; color: #616e7c; }
.kpi .value { font-size: 17px; font-weight: 700; }
.kpi.total { border-color: #0b4f7c; border-width: 2px; }
svg { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 6px; border-bottom: 1px solid #e4e7eb; text-align: left;
         vertical-align: top; }
th { font-size: 11px; color: #3e4c59; text-transform: uppercase; letter-spacing: 0.02em;
     border-bottom: 1.5px solid #9aa5b1; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr { break-inside: avoid; page-break-inside: avoid; }
.bar { display: inline-block; height: 8px; background: #e69f00; vertical-align: middle;
       margin-right: 4px; }
.met { color: #1b7340; font-weight: 700; }
.missed { color: #b3261e; font-weight: 700; }
.unknown { color: #616e7c; font-weight: 700; }
.legend { display: flex; flex-wrap: wrap; gap: 12px; font-size: 11px; color: #3e4c59;
          margin-top: 4px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px;
            vertical-align: middle; }
.legend i.line { height: 0; border-top: 2px solid #1f2933; }
.legend i.dash { height: 0; border-top: 2px dashed #b3261e; }
footer.howto { margin-top: 16px; border-top: 1px solid #cbd2d9; padding-top: 8px;
               color: #3e4c59; font-size: 12px; break-inside: avoid; page-break-inside: avoid; }
footer.howto dt { font-weight: 700; }
footer.howto dd { margin: 0 0 4px 0; }
@media print {
  body { padding: 0; max-width: none; font-size: 11px; }
  nav.toc { display: none; }
  section.stream { break-before: page; page-break-before: always; margin-top: 0; }
  section.overview + section.stream { break-before: page; }
  .kpi { padding: 2px 8px; min-width: 100px; }
  .kpi .value { font-size: 14px; }
  th, td { padding: 2px 5px; }
  svg.hist, svg.flow { max-height: 62mm; }
  svg.vsm { max-height: 68mm; }
  .card { border-color: #9aa5b1; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""
