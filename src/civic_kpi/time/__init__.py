"""Time: the as-of moment (one owner), periods and fiscal calendars, business days and holidays."""
