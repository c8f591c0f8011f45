"""A first hour: a starter catalog for a city's own exports, and the bundled example written anywhere."""
