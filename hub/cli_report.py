"""``anbu report usage|outcomes``: a district's monthly report (사용현황서) from the command line.

The figures are :func:`hub.reports.monthly_report`'s, the same the API and the board show;
the rows and their Korean labels are :mod:`hub.report_render`'s. ``usage`` prints the
sections on use (이용 현황, 알림 발생, 생활 변화 추이), ``outcomes`` those on response
(긴급 대응, 처리 결과). ``--csv``, ``--html`` and ``--pdf`` write the whole report, both
parts, as the API's renderings; the PDF is the HTML printed on A4 by Chromium
(``--headless --print-to-pdf``), so it needs no Python dependency, only a Chromium on the
machine (Debian: ``apt-get install chromium``; ``ANBU_CHROMIUM`` names another binary).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli_support import fail, open_database, settings_or_exit

if TYPE_CHECKING:
    from hub.reports import MonthlyReport

report_app = typer.Typer(
    help="A district's monthly report (사용현황서): use, or response and outcomes.",
    no_args_is_help=True,
)

PARTS = {
    "usage": ("이용 현황", "알림 발생", "생활 변화 추이"),
    "outcomes": ("긴급 대응", "처리 결과"),
}
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_PDF_TIMEOUT_S = 120

District = Annotated[str, typer.Option(help="The district, as residents are registered: 유성구.")]
Month = Annotated[str, typer.Option(help="The calendar month in ANBU_TZ: 2026-11.")]
CsvOut = Annotated[Path | None, typer.Option("--csv", help="Also write the whole report as CSV.")]
HtmlOut = Annotated[
    Path | None, typer.Option("--html", help="Also write the whole report as printable HTML.")
]
PdfOut = Annotated[
    Path | None, typer.Option("--pdf", help="Also write the whole report as an A4 PDF (Chromium).")
]


@report_app.command("usage")
def report_usage(
    district: District,
    month: Month,
    csv: CsvOut = None,
    html: HtmlOut = None,
    pdf: PdfOut = None,
) -> None:
    """Residents monitored, device uptime, days with activity, alerts, trend findings.

    Examples: ``anbu report usage --district 유성구 --month 2026-11``;
    ``anbu report usage --district 유성구 --month 2026-11 --pdf 유성구-2026-11.pdf``.
    """
    _run("usage", district, month, csv, html, pdf)


@report_app.command("outcomes")
def report_outcomes(
    district: District,
    month: Month,
    csv: CsvOut = None,
    html: HtmlOut = None,
    pdf: PdfOut = None,
) -> None:
    """Emergencies, time to acknowledge, dispatches and 119 calls, outcomes, false alarms.

    Examples: ``anbu report outcomes --district 유성구 --month 2026-11``;
    ``anbu report outcomes --district 유성구 --month 2026-11 --csv 유성구-2026-11.csv``.
    """
    _run("outcomes", district, month, csv, html, pdf)


def _run(
    part: str,
    district: str,
    month: str,
    csv: Path | None,
    html: Path | None,
    pdf: Path | None,
) -> None:
    from alerts.clock import SystemClock
    from hub.report_render import report_csv, report_html, report_sections
    from hub.reports import monthly_report

    chromium = _chromium() if pdf is not None else None
    if pdf is not None and chromium is None:
        raise fail(
            "PDF 에는 Chromium 이 필요합니다 (apt-get install chromium) — 아니면 --html 로 "
            "저장해 브라우저에서 인쇄하세요 / --pdf needs Chromium (apt-get install chromium, "
            "or ANBU_CHROMIUM); or write --html and print it from a browser",
            2,
        )
    from hub.districts import DistrictError, resolve_in

    settings = settings_or_exit()
    with open_database(settings) as engine:
        try:  # a name that is no district is an error with the closest names, not zeros
            district = resolve_in(engine, district, settings.sido).name
        except DistrictError as error:
            raise fail(f"--district: {error.message}", 2) from None
        try:
            report = monthly_report(engine, district, month, settings.tz, now=SystemClock().now())
        except ValueError as error:
            raise fail(f"--month: {error}", 2) from None
    for title, rows in report_sections(report):
        if title not in PARTS[part]:
            continue
        typer.echo(f"[{title}]")
        for label, value in rows:
            typer.echo(f"  {label}: {value or '-'}")
    if csv is not None:
        # UTF-8 with the BOM report_csv starts with, as Korean Excel needs.
        csv.write_text(report_csv(report), encoding="utf-8", newline="")
        typer.echo(f"CSV: {csv}")
    if html is not None:
        html.write_text(report_html(report), encoding="utf-8")
        typer.echo(f"HTML: {html}")
    if pdf is not None and chromium is not None:
        _print_pdf(chromium, report, pdf)
        typer.echo(f"PDF: {pdf}")


def _chromium() -> str | None:
    named = os.environ.get("ANBU_CHROMIUM")
    if named:
        return shutil.which(named)
    return next((found for name in _CHROMIUM_NAMES if (found := shutil.which(name))), None)


def _print_pdf(chromium: str, report: MonthlyReport, out: Path) -> None:
    from hub.report_render import report_html

    with tempfile.TemporaryDirectory(prefix="anbu-report-") as workdir:
        page = Path(workdir) / "report.html"
        page.write_text(report_html(report), encoding="utf-8")
        command = [
            chromium,
            "--headless",
            "--disable-gpu",
            f"--user-data-dir={Path(workdir) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out.resolve()}",
            page.as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root otherwise
        try:
            done = subprocess.run(  # noqa: S603 - our own arguments, no shell
                command, capture_output=True, text=True, timeout=_PDF_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise fail(
                f"Chromium 이 {_PDF_TIMEOUT_S}초 안에 PDF 를 만들지 못했습니다 / timed out"
            ) from None
    if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        raise fail(f"PDF 를 만들지 못했습니다 / Chromium failed ({done.returncode}): {last}")
