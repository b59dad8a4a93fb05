"""The floor for one authenticated request: a bare FastAPI app under the same server as ours
(uvicorn, httptools, uvloop, the same number of workers) that hashes the bearer key and looks
it up in a dict. benchmarks/http.py serves it beside `zhengxin serve` and divides by its rate."""

from __future__ import annotations

import hashlib
import os

from fastapi import FastAPI, Header, HTTPException

app = FastAPI()
KEY = os.environ.get("BARE_APP_KEY", "zx_bench_secret")
HOLDERS = {hashlib.sha256(KEY.encode()).hexdigest(): {"id": "pt-bench", "role": "lender", "name": "Bench Bank"}}


@app.get("/me")
async def me(authorization: str = Header("")) -> dict:
    holder = HOLDERS.get(hashlib.sha256(authorization.removeprefix("Bearer ").encode()).hexdigest())
    if holder is None:
        raise HTTPException(401)
    return holder
