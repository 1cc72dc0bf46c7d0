"""`medview pacs echo | find | get | send`: the PACS dock's work without a window.

A DIMSE node is `--host H --port P --aet AE` (medview calls as `--calling-aet`, default MEDVIEW); a DICOMweb node
is `--url BASE`, with credentials from MEDVIEW_DICOMWEB_TOKEN, MEDVIEW_DICOMWEB_USER / MEDVIEW_DICOMWEB_PASSWORD
or the keyring (never from the command line, where other users' `ps` would see them).

Exit status: 0 done; 1 done in part (a partial series, a file the PACS refused); 2 not done (one line why).
"""

from __future__ import annotations

import argparse
import json
import sys

from medview.errors import MedviewError


def _node_options(parser: argparse.ArgumentParser) -> None:
    from medview.pacs.nodes import DEFAULT_CALLING_AET, DEFAULT_TIMEOUT

    where = parser.add_argument_group("the PACS node: --host/--port/--aet (DIMSE) or --url (DICOMweb)")
    where.add_argument("--host", help="the PACS's host name or address (DIMSE)")
    where.add_argument("--port", help="the PACS's DICOM port (DIMSE)")
    where.add_argument("--aet", help="the PACS's AE title (DIMSE)")
    where.add_argument("--calling-aet", default=DEFAULT_CALLING_AET,
                       help=f"medview's own AE title, also its storage SCP's for C-MOVE "
                            f"(default {DEFAULT_CALLING_AET})")
    where.add_argument("--url", help="the DICOMweb base URL, e.g. https://pacs.example.org/dicom-web")
    where.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                       help=f"seconds to wait for the node at each step (default {DEFAULT_TIMEOUT:g})")


def register(subparsers) -> None:
    pacs = subparsers.add_parser("pacs", help="talk to a PACS: echo, find, get (retrieve), send")
    verbs = pacs.add_subparsers(dest="pacs_command", required=True)

    echo = verbs.add_parser("echo", help="C-ECHO (DIMSE) or a QIDO-RS ping (DICOMweb)")
    _node_options(echo)
    echo.set_defaults(run=run_echo)

    find = verbs.add_parser("find", help="find studies (and their series)")
    _node_options(find)
    find.add_argument("--patient-id", default="")
    find.add_argument("--patient-name", default="", help="DICOM wildcards allowed: DOE^*")
    find.add_argument("--modality", default="", help="e.g. CT, MR")
    find.add_argument("--date-from", help="study date from, YYYYMMDD or YYYY-MM-DD")
    find.add_argument("--date-to", help="study date to, YYYYMMDD or YYYY-MM-DD")
    find.add_argument("--accession", default="")
    find.add_argument("--json", action="store_true", help='print {"studies": [...]} as JSON')
    find.set_defaults(run=run_find)

    get = verbs.add_parser("get", help="retrieve a study or series: C-GET, C-MOVE (--move-to) or WADO-RS (--url)")
    _node_options(get)
    get.add_argument("--study", required=True, help="StudyInstanceUID")
    get.add_argument("--series", action="append", default=[], help="SeriesInstanceUID (repeatable; default all)")
    get.add_argument("--move-to", nargs="?", const="", default=None,
                     help="use C-MOVE to this AE title (default: medview's own storage SCP, --calling-aet)")
    get.add_argument("--scp-port", default=None, help="the port medview's storage SCP listens on (default 11113)")
    get.add_argument("--out", help="write the files here, one per SOPInstanceUID (default: the cache)")
    get.set_defaults(run=run_get)

    send = verbs.add_parser("send", help="send DICOM files: C-STORE (--host) or STOW-RS (--url)")
    _node_options(send)
    send.add_argument("files", nargs="+", help="DICOM files (the report's SR and Secondary Captures)")
    send.add_argument("--json", action="store_true", help="print the result per instance as JSON")
    send.set_defaults(run=run_send)


def client_for(args: argparse.Namespace):
    """The DIMSE or DICOMweb client the options describe (exactly one of --url and --host)."""
    from medview.pacs.nodes import DEFAULT_SCP_PORT, DimseNode, WebNode

    if args.url and (args.host or args.port or args.aet):
        raise MedviewError("give either --url (DICOMweb) or --host/--port/--aet (DIMSE), not both")
    if not (args.timeout > 0 and args.timeout < 3600):
        raise MedviewError(f"--timeout {args.timeout:g} must be between 0 and 3600 seconds")
    if args.url:
        from medview.pacs.dicomweb import WebClient

        return WebClient(WebNode.checked(args.url, timeout=args.timeout))
    missing = [flag for flag, value in (("--host", args.host), ("--port", args.port), ("--aet", args.aet))
               if not value]
    if missing:
        raise MedviewError(f"a DIMSE node needs --host, --port and --aet (missing {', '.join(missing)}), "
                           "or give --url for DICOMweb")
    from medview.pacs.dimse import DimseClient

    scp_port = getattr(args, "scp_port", None) or DEFAULT_SCP_PORT
    return DimseClient(DimseNode.checked(args.host, args.port, args.aet, args.calling_aet, scp_port, args.timeout))


def run_echo(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        milliseconds = client.echo()
    print(f"{client.node}: answered in {milliseconds:.0f} ms")
    return 0


def run_find(args: argparse.Namespace) -> int:
    from medview.pacs.query import StudyQuery, as_json, dicom_date

    query = StudyQuery(patient_id=args.patient_id, patient_name=args.patient_name, modality=args.modality,
                       date_from=dicom_date(args.date_from, "--date-from"),
                       date_to=dicom_date(args.date_to, "--date-to"), accession=args.accession)
    with client_for(args) as client:
        studies = client.find(query)
    if args.json:
        print(json.dumps(as_json(studies), indent=1))
        return 0
    if not studies:
        print("no study matches")
    for study in studies:
        print(f"{study.patient_name or '(no name)'}  {study.patient_id}  {study.date}  "
              f"{'/'.join(study.modalities)}  acc {study.accession or '-'}  {study.study_uid}")
        for series in study.series:
            print(f"    series {series.number if series.number is not None else '-'}  {series.modality}  "
                  f"{series.description!r}  {series.n_instances if series.n_instances is not None else '?'} "
                  f"instances  {series.series_uid}")
    return 0


def _already_cached(cache, study_uid: str, series_uids: list[str]):
    cached = cache.find(study_uid)
    if cached is None:
        return None
    wanted = [s for s in cached.series if not series_uids or s.series_uid in series_uids]
    if wanted and all(s.complete for s in wanted) and (not series_uids or len(wanted) == len(set(series_uids))):
        return cached
    return None


def run_get(args: argparse.Namespace) -> int:
    from medview.pacs.arrival import FolderSink
    from medview.pacs.cache import Cache
    from medview.pacs.query import checked_uid
    from medview.pacs.retrieve import (
        InstanceArrived,
        SeriesResult,
        SeriesStarted,
        follow,
        moves_elsewhere,
        retrieve_study,
    )

    study_uid = checked_uid(args.study, "--study")
    series_uids = [checked_uid(uid, "--series") for uid in args.series]
    if args.url and (args.move_to is not None or args.scp_port):
        raise MedviewError("--move-to and --scp-port are for C-MOVE (DIMSE), not for --url")
    if args.scp_port is not None and args.move_to is None:
        args.move_to = ""  # --scp-port alone means C-MOVE to our own SCP
    if args.out:
        sink = FolderSink(args.out)
    else:
        sink = Cache()
        cached = _already_cached(sink, study_uid, series_uids)
        if cached is not None:
            sink.touch(study_uid)
            print(f"already in the cache (no network used): {cached.folder}")
            return 0
    client = client_for(args)
    method = "move" if args.move_to is not None else "get"
    if method == "move":
        from medview.pacs.nodes import ae_title

        args.move_to = ae_title(args.move_to, "--move-to") if args.move_to else client.node.calling_aet
    transfer = retrieve_study(client, study_uid, sink, series_uids or None, method=method, move_to=args.move_to)
    interactive = sys.stderr.isatty()

    def say(event) -> None:
        if isinstance(event, SeriesStarted):
            name = event.series.description or event.series.series_uid
            print(f"series {event.index + 1}/{event.n_series} {name}: {event.expected} instances "
                  f"({event.already} already here)", file=sys.stderr)
        elif isinstance(event, InstanceArrived) and interactive:
            print(f"\r  {event.done}/{event.expected}", end="", file=sys.stderr)
        elif isinstance(event, SeriesResult):
            if interactive:
                print(file=sys.stderr)
            print(event.summary())

    result = follow(transfer, say)
    where = f"moved to {args.move_to}" if moves_elsewhere(client, method, args.move_to) else result.folder
    print(f"{'complete' if result.complete else 'PARTIAL'}: {where}")
    return 0 if result.complete else 1


def run_send(args: argparse.Namespace) -> int:
    from medview import cli_values

    files = [str(cli_values.path(path, "FILES")) for path in args.files]
    with client_for(args) as client:
        results = client.send(files)
    if args.json:
        print(json.dumps({"results": [r.as_json() for r in results]}, indent=1))
    else:
        for result in results:
            print(f"{result.outcome}: {result.path} ({result.message})")
    return 0 if all(r.outcome != "failure" for r in results) else 1
