"""Schedules: runs fired on time, by cron or interval, in an explicit time zone."""
