"""``python -m wasi_wasm run ...``"""

import sys

from .cli import main

sys.exit(main())
