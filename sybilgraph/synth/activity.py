"""Activity over time: minute-resolution intensity per profile, in local time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

HOME, OFFICE, SCHOOL, FLAT = range(4)
_HOURLY = np.array(
    [
        # home: evenings peak, quiet nights
        [3, 2, 1.5, 1, 1, 2, 5, 9, 11, 12, 12, 12, 13, 12, 12, 12, 13, 14, 16, 18, 19, 17, 12, 7],
        # office: working hours
        [.5, .3, .3, .3, .3, .5, 2, 8, 20, 24, 24, 22, 16, 22, 24, 22, 18, 8, 4, 3, 2, 1.5, 1, .7],
        # school: lessons, then homework in the evening
        [.5, .3, .3, .3, .3, .5, 2, 10, 16, 16, 16, 14, 12, 14, 12, 8, 10, 12, 14, 14, 12, 6, 2, 1],
        # flat: scripts run around the clock
        [10] * 24,
    ]
)  # fmt: skip
_WEEKEND = np.array([1.1, 0.08, 0.35, 1.0])
TZ_MINUTES = np.array([-480, -420, -360, -300, -180, 0, 60, 120, 180, 330, 480, 540])
TZ_WEIGHTS = np.array([8, 5, 8, 15, 5, 10, 18, 8, 4, 7, 7, 5], np.float64)
EXT_MIN = 1440  # profiles extend a day either side so any time zone fits


def intensity(start: np.datetime64, days: int, shifts: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Cumulative intensity per profile, shape (profiles, minutes + 1), local time.

    ``shifts`` are more profiles, each 24 hourly weights, the same every day of the week.
    """
    minutes = np.arange(-EXT_MIN, days * 1440 + EXT_MIN)
    day = np.floor_divide(minutes, 1440)
    weekday = (day + (start.astype("datetime64[D]").astype(np.int64) + 3)) % 7  # 0 = Monday
    hour = (minutes % 1440) // 60
    weekend = weekday >= 5
    hourly, weekend_factor = _HOURLY, _WEEKEND
    if shifts:
        hourly = np.vstack([_HOURLY, *shifts])
        weekend_factor = np.concatenate([_WEEKEND, np.ones(len(shifts))])
    weights = hourly[:, hour] * np.where(weekend, weekend_factor[:, None], 1.0)
    cumulative = np.zeros((len(hourly), len(minutes) + 1))
    cumulative[:, 1:] = np.cumsum(weights, axis=1)
    return cumulative


def sample_minutes(
    cum: np.ndarray, base: np.ndarray, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw one UTC minute in ``[lo, hi)`` per row, following the row's intensity."""
    lo_c = cum[base + lo]
    hi_c = cum[base + hi]
    target = lo_c + rng.random(len(base)) * (hi_c - lo_c)
    idx = np.searchsorted(cum, target, side="right") - 1
    return np.clip(idx - base, lo, hi - 1)
