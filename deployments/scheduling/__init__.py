"""Periodic jobs run by the task worker: schedules, their runs, and the alerts they raise."""
