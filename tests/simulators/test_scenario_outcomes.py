"""Every scenario file, run through the hub's real core and database: who was told, and when.

Each household's simulated stream goes into :class:`hub.service.HubCore` as the ingest
worker would hand it over (protocol payloads on device topics), in virtual time on a SQLite
file: before each event every step due up to its arrival fires (``next_due``/``run_due``),
so the 12 h / 24 h stages run in milliseconds. The outcome is read back from the tables a
person would see: SMS rows in ``outbox``, queued ``digest_items``, and ``alert_timeline``.
Times are asserted against the scenario's ground truth, not against constants, so a change
of seed or routine moves the expectation with the incident.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from alerts.calendar import WorkingCalendar
from alerts.engine import Escalation
from alerts.inputs import Acknowledge
from hub.mqtt import Incoming
from hub.service import HubCore
from hub.settings import Settings
from hub.store.db import migrate, open_engine
from hub.store.tables import alert_timeline, alerts, digest_items, outbox, trend_findings
from protocol import Emergency, to_json
from protocol.topics import device_topic
from simulators.model import Incident, Simulation, expand_heartbeats
from simulators.scenario import load_scenario
from simulators.stored import sim_incoming

KST = ZoneInfo("Asia/Seoul")
SCENARIOS = Path(__file__).resolve().parents[2] / "simulators" / "scenarios"
CENTRE_PHONE = "+8220000000"
SUPERVISOR_PHONE = "+8220000001"
GUARDIAN_PHONE = "+821011112222"
OFFICIAL_PHONE = "+821033334444"
# The worker fires a step when it wakes, not at the exact microsecond; and the model folds
# activity into 10-minute windows, so "the last activity" is only known to that precision.
SLACK = timedelta(minutes=5)
CALENDAR = WorkingCalendar()


# ----------------------------------------------------------------------------- harness


@dataclass
class Outcome:
    """What the hub did for one household, read back from its database."""

    sim: Simulation
    sms: list[Any]
    digests: list[Any]
    alerts: list[Any]
    timeline: list[Any]
    checkins: list[datetime]  # when the hub asked "괜찮으세요?" on a speaker

    def incident(self, kind: str) -> Incident:
        (found,) = [i for i in self.sim.ground_truth if i.kind == kind]
        return found

    def told(self, role: str, kind: str | None = None) -> list[Any]:
        return [r for r in self.sms if r.role == role and (kind is None or r.kind == kind)]

    def alerts_of(self, kind: str) -> list[Any]:
        return [a for a in self.alerts if a.kind == kind]

    def activity_before(self, at: datetime) -> datetime:
        """The resident's last activity (any device, by device clock) strictly before ``at``."""
        times = [e.device_ts for e in self.sim.events() if e.kind == "activity"]
        return max(t for t in times if t < at)


Action = Callable[[HubCore, datetime], None]
# Arrivals closer together than this go into one ingest call, as the worker takes what the
# broker delivered together. Shorter than three 300 s heartbeats, and a batch never reaches
# past the next due step, so no device looks offline and no step fires late because of it.
BATCH_WINDOW = timedelta(minutes=10)
# Kinds that always go in alone at their exact arrival time: an emergency's paging time
# and a Last Will's offline time are what the tests measure.
ALONE = frozenset({"emergency", "status"})


def run_household(
    sim: Simulation,
    db_url: str,
    policy: dict[str, Any] | None = None,
    actions: list[tuple[datetime, Action]] | None = None,
) -> Outcome:
    """Feed one household's whole stream into a fresh HubCore and fire every due step.

    ``actions`` are what people do at given times (an operator acknowledging), run after
    every step due by then has fired and before any event arriving at or after them.
    """
    engine = open_engine(db_url)
    migrate(engine)
    try:
        start = datetime.combine(sim.start, datetime.min.time(), KST)
        core = HubCore(
            engine,
            Escalation(CALENDAR),
            Settings(control_center_phones=[CENTRE_PHONE], supervisor_phones=[SUPERVISOR_PHONE]),
        )
        resident = sim.household.resident
        core.register_resident(
            {"id": resident, "name": "김영희", "district": "유성구", "policy": policy or {}}, start
        )
        events = list(expand_heartbeats(sim.events()))
        for device in sorted({e.device for e in events}):
            # The simulator names each device after its kind: speaker, phone, sensors.
            core.register_device(resident, device, device, start)
        core.add_contact(resident, "guardian", "딸", GUARDIAN_PHONE, start)
        core.add_contact(resident, "official", "담당 공무원", OFFICIAL_PHONE, start)

        ids = itertools.count(1)
        pending = sorted(actions or [], key=lambda a: a[0])
        i = 0
        while i < len(events):
            first = events[i].at
            while pending and pending[0][0] <= first:
                when, act = pending.pop(0)
                _run_until(core, when)
                act(core, when)
            _run_until(core, first)
            limit = first + BATCH_WINDOW
            due = core.next_due()
            if due is not None:
                limit = min(limit, due)
            if pending:
                limit = min(limit, pending[0][0])
            j = i + 1
            if events[i].kind not in ALONE:
                while (
                    j < len(events)
                    and events[j].kind not in ALONE
                    and (events[j].at == first or events[j].at < limit)
                ):
                    j += 1
            batch = [sim_incoming(resident, event, ids) for event in events[i:j]]
            core.ingest(batch, events[j - 1].at)
            i = j
        end = start + timedelta(days=sim.days)
        for when, act in pending:
            _run_until(core, when)
            act(core, when)
        _run_until(core, end)
        with engine.connect() as conn:
            return Outcome(
                sim=sim,
                sms=conn.execute(
                    select(outbox).where(outbox.c.channel == "sms").order_by(outbox.c.id)
                ).all(),
                digests=conn.execute(select(digest_items).order_by(digest_items.c.id)).all(),
                alerts=conn.execute(select(alerts).order_by(alerts.c.opened_at)).all(),
                timeline=conn.execute(select(alert_timeline).order_by(alert_timeline.c.id)).all(),
                checkins=conn.execute(
                    select(outbox.c.created_at)
                    .where(outbox.c.channel == "mqtt")
                    .where(outbox.c.recipient.like("%/cmd"))
                    .order_by(outbox.c.id)
                )
                .scalars()
                .all(),
            )
    finally:
        engine.dispose()


def _run_until(core: HubCore, until: datetime) -> None:
    """Fire every due step in order up to (and including) ``until``, as the worker does."""
    while True:
        due = core.next_due()
        if due is None or due > until:
            return
        core.run_due(due)


def acknowledge_open_emergencies(core: HubCore, now: datetime) -> None:
    """The control centre takes every open emergency on (from the board)."""
    with core.engine.connect() as conn:
        open_ids = (
            conn.execute(
                select(alerts.c.id).where(alerts.c.kind == "emergency", alerts.c.state == "open")
            )
            .scalars()
            .all()
        )
    for alert_id in open_ids:
        core.operator_input(alert_id, Acknowledge(alert_id, "상황실 김", "control_center"), now)


def simulate(name: str) -> Simulation:
    (sim,) = load_scenario(SCENARIOS / f"{name}.yaml").simulate()  # one household each
    return sim


def run_scenario(
    name: str,
    tmp_path: Path,
    policy: dict[str, Any] | None = None,
    actions: list[tuple[datetime, Action]] | None = None,
) -> Outcome:
    db_url = f"sqlite:///{tmp_path / f'{name}.db'}"
    return run_household(simulate(name), db_url, policy, actions)


def _near(actual: datetime, expected: datetime, slack: timedelta = SLACK) -> bool:
    return abs(actual - expected) <= slack


def _sms_at(rows: list[Any]) -> list[datetime]:
    return [r.created_at for r in rows]


def _assert_official_routed(outcome: Outcome, at: datetime, message: str) -> None:
    """Officials get an SMS only in working hours; otherwise the item waits for their digest."""
    paged = [r for r in outcome.told("official") if r.message == message]
    queued = [d for d in outcome.digests if d.message == message]
    if CALENDAR.is_working_time(at):
        assert [r.created_at for r in paged] == [at]
        assert queued == []
        return
    assert paged == []
    assert len(queued) == 1
    assert queued[0].deliver_at == CALENDAR.next_working_start(at)
    end = datetime.combine(outcome.sim.start, datetime.min.time(), KST)
    end += timedelta(days=outcome.sim.days)
    digests = [r for r in outcome.told("official", "digest")]
    if queued[0].deliver_at <= end:
        assert queued[0].deliver_at in _sms_at(digests)


def _max_activity_gap(sim: Simulation) -> timedelta:
    """The longest stretch with no activity, counted from the start of monitoring."""
    start = datetime.combine(sim.start, datetime.min.time(), KST)
    end = start + timedelta(days=sim.days)
    times = sorted(e.device_ts for e in sim.events() if e.kind == "activity")
    edges = [start, *times, end]
    return max(b - a for a, b in itertools.pairwise(edges))


# ------------------------------------------------------------------ outcome per scenario

Check = Callable[[Path], None]
CHECKS: dict[str, Check] = {}


def outcome(name: str) -> Callable[[Check], Check]:
    """Register the outcome check of ``simulators/scenarios/<name>.yaml``."""

    def register(check: Check) -> Check:
        CHECKS[name] = check
        return check

    return register


@outcome("fall")
def _fall(tmp_path: Path) -> None:
    # Default policy on purpose (11 h check-in / 12 h guardian / 24 h control centre).
    run = run_scenario("fall", tmp_path)
    fall = run.incident("fall")
    last = run.activity_before(fall.start)
    assert fall.start - last < timedelta(hours=1), "the resident was active just before"
    guardian_at = last + timedelta(hours=12)
    centre_at = last + timedelta(hours=24)

    # Nobody is bothered before the guardian stage: the days before the fall were normal.
    assert min(_sms_at(run.sms)) >= guardian_at - SLACK
    assert [c for c in run.checkins if c < guardian_at] != []
    assert _near(max(c for c in run.checkins if c < guardian_at), last + timedelta(hours=11))

    (guardian,) = [r for r in run.told("guardian") if r.message == "inactivity_guardian"]
    assert _near(guardian.created_at, guardian_at)
    assert guardian.event_at == last  # the message says since when, from the device clock
    (centre,) = run.told("control_center", "inactivity")
    assert _near(centre.created_at, centre_at)
    (reminder,) = [r for r in run.told("guardian") if r.message == "inactivity_guardian_reminder"]
    assert reminder.created_at == centre.created_at
    _assert_official_routed(run, centre.created_at, "inactivity_official")

    # She is still on the floor when the run ends: the alert stays open at the centre's stage,
    # and nothing claims she is fine.
    (alert,) = run.alerts
    assert (alert.kind, alert.state, alert.stage) == ("inactivity", "open", "control_center")
    assert not [r for r in run.sms if r.message == "activity_resumed"]


def _emergency_paged(run: Outcome, incident: Incident, ack_at: datetime) -> Any:
    """The emergency path, whatever the hour: centre and guardian at once, supervisor if the
    centre has not acknowledged within 60 s, official by working hours."""
    (alert,) = run.alerts_of("emergency")
    assert alert.opened_at - incident.start < timedelta(minutes=1)
    for role in ("control_center", "guardian"):
        first = [r for r in run.told(role, "emergency") if r.message == "emergency_alert"]
        assert len(first) == 1, role
        assert first[0].created_at - incident.start < timedelta(minutes=1), role
    # The official hears once the centre has it ("관제센터 확인 중"), by working hours.
    _assert_official_routed(run, ack_at, "emergency_official")
    # Nobody in the simulation answers, so every minute the centre is alerted again; the
    # supervisor is told once, and again when the centre answers after all.
    minute = timedelta(seconds=60)
    realerts = [
        r.created_at for r in run.told("control_center") if r.message == "emergency_realert"
    ]
    assert realerts == [alert.opened_at + minute * n for n in range(1, 6)]
    supervisor = [(r.created_at, r.message) for r in run.told("supervisor")]
    assert supervisor == [
        (alert.opened_at + minute, "emergency_supervisor"),
        (ack_at, "emergency_supervisor_answered"),
    ]
    assert alert.state == "acknowledged"
    return alert


@outcome("emergency_call")
def _emergency_call(tmp_path: Path) -> None:
    call = simulate("emergency_call").ground_truth[0]
    ack_at = call.start + timedelta(minutes=5)
    run = run_scenario("emergency_call", tmp_path, actions=[(ack_at, acknowledge_open_emergencies)])
    alert = _emergency_paged(run, call, ack_at)
    # Sunday 21:40: the official's copy waits for Monday 09:00 (after the run ends).
    assert not CALENDAR.is_working_time(alert.opened_at)
    assert run.alerts_of("inactivity") == [], "her day went on as usual around the call"


@outcome("emergency_then_cancel")
def _emergency_then_cancel(tmp_path: Path) -> None:
    incident = simulate("emergency_then_cancel").ground_truth[0]
    assert incident.end is not None
    ack_at = incident.start + timedelta(minutes=5)
    run = run_scenario(
        "emergency_then_cancel", tmp_path, actions=[(ack_at, acknowledge_open_emergencies)]
    )
    alert = _emergency_paged(run, incident, ack_at)
    # The cancel is on the alert's timeline and the centre is told of it, but it closes
    # nothing: only a person closes an emergency (a cancel may be said under duress).
    cancels = [t for t in run.timeline if t.alert_id == alert.id and t.what == "cancel_requested"]
    assert [t.at for t in cancels] == [incident.end]
    (told,) = [r for r in run.told("control_center") if r.message == "emergency_cancel_requested"]
    assert told.created_at == incident.end
    realerts = [r for r in run.told("control_center") if r.message == "emergency_realert"]
    assert [r for r in realerts if r.created_at > incident.end], "re-alerts go on after the cancel"
    assert alert.resolved_at is None
    # Pinned current behaviour (see the report): an emergency is not resident activity, so
    # the first inactivity page is counted from the last activity *before* the call, even
    # though she spoke to the speaker at the call and at the cancel.
    pages = [r for r in run.told("guardian") if r.message == "inactivity_guardian"]
    assert pages, "this speaker-only household is quiet enough for a 12 h gap"
    assert pages[0].event_at < incident.start


def _emergency_message(resident: str, device: str, at: datetime) -> Incoming:
    body = Emergency(v=1, id="sos-ward", ts=at.astimezone(KST), trigger="app", text="도와줘")
    return Incoming(
        topic=device_topic(resident, device, "emergency"),
        payload=to_json(body),
        mid=999_999,
        qos=1,
        retain=False,
        generation=1,
    )


@outcome("hospital_stay")
def _hospital_stay(tmp_path: Path) -> None:
    sim = simulate("hospital_stay")
    (stay,) = sim.ground_truth
    assert stay.away_until is not None
    # Day 4 14:00 in the ward she presses the app's SOS: away mode must not mute it.
    sos_at = datetime.combine(sim.start + timedelta(days=3), datetime.min.time(), KST)
    sos_at += timedelta(hours=14)

    def press_sos(core: HubCore, now: datetime) -> None:
        core.ingest([_emergency_message(sim.household.resident, "phone", now)], now)

    run = run_household(
        sim,
        f"sqlite:///{tmp_path / 'ward.db'}",
        policy={"away_until": stay.away_until.isoformat()},
        actions=[
            (sos_at, press_sos),
            (sos_at + timedelta(minutes=2), acknowledge_open_emergencies),
        ],
    )
    assert run.alerts_of("inactivity") == [], "away mode: no inactivity alert while away"
    assert not [c for c in run.checkins if stay.start <= c < stay.away_until]
    (sos,) = run.alerts_of("emergency")
    assert sos.opened_at == sos_at
    for role in ("control_center", "guardian"):
        assert [r.created_at for r in run.told(role, "emergency") if r.step == "open"] == [sos_at]
    # A Thursday afternoon: an SMS, once the centre has acknowledged (two minutes in).
    _assert_official_routed(run, sos_at + timedelta(minutes=2), "emergency_official")


def test_hospital_stay_without_away_mode_pages_the_guardian(tmp_path: Path) -> None:
    """The comparison the scenario is for: without away_until the stay looks like silence.

    The phone goes along, so only the nights in the ward (no phone use for 12 h) open an
    inactivity alert; each resolves when she next uses the phone.
    """
    run = run_scenario("hospital_stay", tmp_path)
    (stay,) = run.sim.ground_truth
    assert stay.away_until is not None
    pages = [r for r in run.told("guardian") if r.message == "inactivity_guardian"]
    assert pages
    assert all(stay.start < r.created_at < stay.away_until for r in pages)
    assert all(a.state == "resolved" for a in run.alerts_of("inactivity"))
    assert run.told("control_center") == []


@outcome("phone_left_at_home")
def _phone_left_at_home(tmp_path: Path) -> None:
    # The model sends no activity from *any* device during the visit (the phone lies unused,
    # nobody is home for the speaker), so the hub cannot tell it from a fall: the guardian
    # page at T+12 h is correct given the evidence. What it must not do is go further: she is
    # home before T+24 h, the alert resolves and the guardian hears so; the centre is never
    # involved.
    run = run_scenario("phone_left_at_home", tmp_path)
    visit = run.incident("phone_left_at_home")
    assert visit.end is not None
    last = run.activity_before(visit.start)
    assert _max_activity_gap(run.sim) < timedelta(hours=24)
    (page,) = [r for r in run.told("guardian") if r.message == "inactivity_guardian"]
    assert _near(page.created_at, last + timedelta(hours=12))
    assert page.created_at < visit.end, "a false alarm: she is out, not on the floor"
    (resumed,) = [r for r in run.told("guardian") if r.message == "activity_resumed"]
    back = min(e.device_ts for e in run.sim.events() if e.kind == "activity" and e.at >= visit.end)
    assert _near(resumed.created_at, back, BATCH_WINDOW)
    assert run.told("control_center") == []
    assert run.told("official") == [] and run.digests == []
    (alert,) = run.alerts
    assert alert.state == "resolved"


@outcome("speaker_unplugged")
def _speaker_unplugged(tmp_path: Path) -> None:
    # A speaker-only household: with the speaker gone nothing can watch her, so the centre
    # must hear "monitoring lost" 2 h after the Last Will; guardians are not told about
    # devices. (Inactivity alerts also run here: this seed's routine gives the speaker about
    # one voice command a day, so 12 h gaps are normal for her; see the report.)
    run = run_scenario("speaker_unplugged", tmp_path)
    unplug = run.incident("speaker_unplugged")
    (lost,) = run.alerts_of("monitoring_lost")
    assert lost.opened_at == unplug.start + timedelta(hours=2)
    (told,) = run.told("control_center", "monitoring_lost")
    assert told.created_at == lost.opened_at
    assert run.told("guardian", "monitoring_lost") == []
    assert lost.state == "open", "never plugged back in"


def test_speaker_unplugged_with_other_devices_is_no_page(tmp_path: Path) -> None:
    """The same unplug in a household whose phone and sensors go on: the speaker is only
    marked offline; nobody is paged, because other devices still show her activity."""
    scenario = load_scenario(SCENARIOS / "speaker_unplugged.yaml")
    household = scenario.households[0].model_copy(update={"devices": "all"})
    sim = Simulation(household, scenario.start, scenario.days, scenario.seed)
    assert _max_activity_gap(sim) < timedelta(hours=12)
    run = run_household(sim, f"sqlite:///{tmp_path / 'all.db'}")
    assert run.alerts == []
    assert run.sms == []


@outcome("slow_decline")
def _slow_decline(tmp_path: Path) -> None:
    # The fixed rule sees nothing while the decline is young (sensors still pick up night
    # trips and mornings); only once activity is down to about a third do 12 h gaps appear.
    # The trend charts (policy trend_watch) put it on the official's work list within two
    # weeks, while it is still a lasting drop of a fifth or so.
    run = run_scenario("slow_decline", tmp_path)
    decline = run.incident("slow_decline")
    young = decline.start + timedelta(days=10)
    assert all(a.opened_at > young for a in run.alerts)
    assert run.checkins == [], "sensors only: no speaker to ask"
    (tmp_path / "watched").mkdir()
    watched = run_scenario("slow_decline", tmp_path / "watched", policy={"trend_watch": True})
    with open_engine(f"sqlite:///{tmp_path / 'watched' / 'slow_decline.db'}").connect() as conn:
        found = conn.execute(select(trend_findings)).all()
        digest = conn.execute(select(digest_items).where(digest_items.c.alert_id == found[0].id))
        queued = digest.all()
    first = min(found, key=lambda f: f.detected_at)
    assert decline.start < first.detected_at < decline.start + timedelta(days=14), first
    assert first.kind == "activity_drop" and "활동 감소 추이" in first.detail
    # The official's digest carries it; it is never an SMS of its own, never to a guardian.
    assert [q.role for q in queued] == ["official"]
    assert not [r for r in watched.sms if r.kind is None and r.role == "guardian"]


@outcome("nights_away")
def _nights_away(tmp_path: Path) -> None:
    # Two nights at her son's without away mode: the speaker at home hears nothing, but the
    # phone goes along and is used all day, so the hub keeps hearing from her: no page.
    run = run_scenario("nights_away", tmp_path)
    away = run.incident("nights_away")
    assert away.away_until is None, "nobody told the hub"
    assert _max_activity_gap(run.sim) < timedelta(hours=12)
    assert run.alerts_of("inactivity") == []
    assert run.told("guardian") == []


def _monitoring_lost_and_restored(run: Outcome, kind: str) -> None:
    fault = run.incident(kind)
    assert fault.end is not None
    (lost,) = run.alerts_of("monitoring_lost")
    assert lost.opened_at == fault.start + timedelta(hours=2)
    assert lost.state == "resolved"
    assert _sms_at(run.told("control_center", "monitoring_lost")) == [lost.opened_at, fault.end]
    assert run.told("guardian", "monitoring_lost") == []


@outcome("power_cut")
def _power_cut(tmp_path: Path) -> None:
    # Every device goes dark for 3 h: the centre hears "monitoring lost" at +2 h and "restored"
    # when power returns; a 3 h gap is no inactivity, so nobody else is told.
    run = run_scenario("power_cut", tmp_path)
    _monitoring_lost_and_restored(run, "power_cut")
    assert run.alerts_of("inactivity") == []
    assert run.told("guardian") == []


@outcome("battery")
def _battery(tmp_path: Path) -> None:
    # The sensor gateway (the only device) dies for 48 h: monitoring lost at +2 h, restored
    # when the battery is replaced. Pinned current behaviour (see the report): the inactivity
    # rules keep running while nothing can report, so the guardian is also paged at T+12 h,
    # the centre at T+24 h, and "activity resumed" goes out once the sensors are back,
    # although the scenario file calls this "monitoring lost, not inactivity". Low-battery
    # heartbeats (8 % for three days) page nobody.
    run = run_scenario("battery", tmp_path)
    _monitoring_lost_and_restored(run, "battery")
    dead = run.incident("battery")
    assert dead.end is not None
    last = run.activity_before(dead.start)
    (page,) = [r for r in run.told("guardian") if r.message == "inactivity_guardian"]
    assert _near(page.created_at, last + timedelta(hours=12))
    assert page.created_at > dead.start
    (alert,) = run.alerts_of("inactivity")
    assert alert.state == "resolved"
    assert all(r.created_at >= dead.start for r in run.sms), "the low-battery days page nobody"


@outcome("wifi_drop")
def _wifi_drop(tmp_path: Path) -> None:
    # Wi-Fi down 5 h: the phone (LTE) stays online, so monitoring is never lost, and the
    # buffered activity arrives with its device time, so there is no gap to alert on.
    run = run_scenario("wifi_drop", tmp_path)
    assert run.alerts == []
    assert run.sms == []


# ------------------------------------------------------------------------------ the tests


def _scenario_names() -> list[str]:
    return sorted(path.stem for path in SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("name", _scenario_names())
def test_scenario_outcome(name: str, tmp_path: Path) -> None:
    check = CHECKS.get(name)
    if check is None:
        pytest.fail(f"{name}.yaml has no outcome check here; add one with @outcome({name!r})")
    check(tmp_path)


def test_every_scenario_file_has_an_outcome_check() -> None:
    assert set(_scenario_names()) == set(CHECKS), "one @outcome per scenario file, no strays"
