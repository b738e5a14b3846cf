int gup(void) { return 0; }
