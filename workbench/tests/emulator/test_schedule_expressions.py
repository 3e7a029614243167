"""Schedule expressions as EventBridge reads them: the examples of AWS's own tables ("Cron expressions
reference" and "Rate expressions", EventBridge User Guide), time zones, and what AWS refuses to create."""

from __future__ import annotations

import datetime as dt

import pytest

from workbench.emulator.schedules import ScheduleError, ScheduleExpression

THURSDAY = dt.datetime(2026, 12, 3, 5, 52, tzinfo=dt.UTC)  # a Thursday in winter: Paris is UTC+1


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def occurrences(expression: ScheduleExpression, after: dt.datetime, count: int) -> list[dt.datetime | None]:
    found: list[dt.datetime | None] = []
    moment = after
    for _ in range(count):
        following = expression.occurrence_after(moment, after)
        found.append(following)
        if following is None:
            break
        moment = following
    return found


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 10 * * ? *", [utc(2026, 12, 3, 10), utc(2026, 12, 4, 10)]),  # 10:00 every day
        ("15 12 * * ? *", [utc(2026, 12, 3, 12, 15), utc(2026, 12, 4, 12, 15)]),  # 12:15 every day
        ("0 18 ? * MON-FRI *", [utc(2026, 12, 3, 18), utc(2026, 12, 4, 18), utc(2026, 12, 7, 18)]),  # weekdays
        ("0 8 1 * ? *", [utc(2027, 1, 1, 8), utc(2027, 2, 1, 8)]),  # 8:00 on the first of the month
        ("0/15 * * * ? *", [utc(2026, 12, 3, 6), utc(2026, 12, 3, 6, 15)]),  # every 15 minutes
        ("0/5 8-17 ? * MON-FRI *", [utc(2026, 12, 3, 8), utc(2026, 12, 3, 8, 5)]),  # every 5 minutes, office hours
        ("0 9 ? * 2#1 *", [utc(2026, 12, 7, 9), utc(2027, 1, 4, 9)]),  # 9:00 on the first Monday (1 is Sunday)
        ("0 12 L * ? *", [utc(2026, 12, 31, 12), utc(2027, 1, 31, 12)]),  # noon on the month's last day
    ],
)
def test_cron_occurrences_are_the_documented_ones(cron: str, expected: list[dt.datetime]):
    # GIVEN an example of AWS's cron table, WHEN its next occurrences are asked for, THEN they are its meaning
    assert occurrences(ScheduleExpression(f"cron({cron})"), THURSDAY, len(expected)) == expected


def test_a_cron_reads_the_wall_clock_of_its_time_zone_across_daylight_saving():
    # GIVEN 9:00 on weekdays in Paris
    paris = ScheduleExpression("cron(0 9 ? * MON-FRI *)", "Europe/Paris")

    # THEN it is 8:00 UTC in winter and 7:00 UTC in summer
    assert paris.occurrence_after(THURSDAY, THURSDAY) == utc(2026, 12, 3, 8)
    summer = utc(2026, 7, 1, 5)
    assert paris.occurrence_after(summer, summer) == utc(2026, 7, 1, 7)


def test_a_rate_counts_its_periods_from_the_start():
    # GIVEN a rate, THEN its occurrences are whole periods after the start, the first one period in
    every_5 = ScheduleExpression("rate(5 minutes)")
    assert occurrences(every_5, THURSDAY, 3) == [THURSDAY + dt.timedelta(minutes=m) for m in (5, 10, 15)]
    # … and from any moment, the next whole period
    later = THURSDAY + dt.timedelta(minutes=7)
    assert every_5.occurrence_after(later, THURSDAY) == THURSDAY + dt.timedelta(minutes=10)
    assert ScheduleExpression("rate(1 day)").occurrence_after(THURSDAY, THURSDAY) == THURSDAY + dt.timedelta(days=1)


def test_a_one_time_schedule_fires_once_in_its_time_zone():
    once = ScheduleExpression("at(2026-12-24T18:00:00)", "Europe/Paris")
    assert occurrences(once, THURSDAY, 2) == [utc(2026, 12, 24, 17), None]


def test_a_cron_whose_years_have_passed_never_fires():
    assert ScheduleExpression("cron(0 12 15 * ? 2025)").occurrence_after(THURSDAY, THURSDAY) is None


@pytest.mark.parametrize(
    ("text", "timezone", "reason"),
    [
        ("cron(0 0 * * * *)", "UTC", "One must be a question mark"),  # day-of-month and day-of-week both *
        ("cron(0 18 ? * MON-FRI)", "UTC", "6 required, 5 provided"),  # Unix cron's five fields
        ("rate(1 minutes)", "UTC", "singular unit for 1"),
        ("rate(5 minute)", "UTC", "plural above"),
        ("rate(0 hours)", "UTC", "must be positive"),
        ("every day", "UTC", "is not rate"),
        ("rate(1 day)", "Europe/Nowhere", "is not a time zone"),
    ],
)
def test_what_aws_would_not_create_is_refused_with_the_reason(text: str, timezone: str, reason: str):
    with pytest.raises(ScheduleError, match=reason):
        ScheduleExpression(text, timezone)
