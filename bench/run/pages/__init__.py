"""What a run leaves for people: reproducer.sh, report.txt (a mail) and index.html (a page)."""
