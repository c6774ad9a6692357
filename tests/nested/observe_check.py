#!/usr/bin/env python3
import sys
print("1..0 # SKIP checks not written yet")
