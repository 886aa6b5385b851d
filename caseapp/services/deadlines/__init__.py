"""Deadlines: every clock a case runs on (clocks), the presets that start them, their reminders
(alerts) and the day's list of what is due (days)."""
