"""``{% daily_summary as summary %}``: the daily summary for the platform admin index."""

from __future__ import annotations

from django import template
from django.utils import timezone

from deployments.routine.summary import DailySummary, build_daily_summary

register = template.Library()


@register.simple_tag
def daily_summary() -> DailySummary:
    return build_daily_summary(now=timezone.now())
