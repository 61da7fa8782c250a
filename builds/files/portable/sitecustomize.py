"""/opt/salt's own C libraries first for ctypes.util.find_library.

find_library asks the system's linker cache, which on the target holds older copies of the
libraries /opt/salt bundles (EL7: OpenSSL 1.0.2) or none at all; Salt loads libcrypto that
way (salt.utils.rsax931). A library /opt/salt ships is the one its modules must get.
"""

import ctypes.util
import glob
import os
import sys

# Python 2.7 has no base_prefix: its prefix is /opt/salt itself.
_OWN = os.path.join(getattr(sys, "base_prefix", sys.prefix), "lib")
_system_find_library = ctypes.util.find_library


def find_library(name):
    own = sorted(glob.glob(os.path.join(_OWN, "lib{}.so.*".format(name))))
    return own[0] if own else _system_find_library(name)


ctypes.util.find_library = find_library
