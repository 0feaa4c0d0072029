"""The house style shared by charts, tables and the format options in reports/_quarto.yml."""

INK = "#1d2733"
MUTED = "#5b6675"
ACCENT = "#b3261e"
ACCENT_LIGHT = "#f3e3e1"
MARKER = "#8a5a00"
PALETTE = ("#b3261e", "#1f5f8b", "#6b8e23", "#8a5a00", "#6a4c93", "#2f4f4f", "#c06c84",
           "#4f6d7a")
FONT_STACK = "Source Sans Pro, Source Sans 3, Helvetica Neue, Arial, DejaVu Sans, sans-serif"
