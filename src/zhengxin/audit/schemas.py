from pydantic import BaseModel, Field

# Indices and sizes of the log are bounded by JSON's safe integers (2^53 - 1): far beyond any log
# the agency keeps, and within what every client and both databases hold exactly.
MAX_TREE_SIZE = 2**53 - 1


class Cosignature(BaseModel):
    witness: str
    role: str
    public_key: str
    signature: str


class SignedTreeHead(BaseModel):
    tree_size: int
    timestamp: int = Field(description="Milliseconds since the epoch, UTC")
    root_hash: str
    key_id: str
    signature: str = Field(description="Ed25519 over the canonical JSON of root_hash, timestamp, tree_size; hex")
    cosignatures: list[Cosignature] = []


class LogKey(BaseModel):
    key_id: str
    public_key: str


class LogKeys(BaseModel):
    keys: list[LogKey]


class Entry(BaseModel):
    index: int
    leaf: str | None
    leaf_hash: str | None = None


class Entries(BaseModel):
    entries: list[Entry]


class InclusionProof(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    proof: list[str]


class WitnessKey(BaseModel):
    public_key: str = Field(description="The witness's Ed25519 public key, 32 bytes hex")


class CosignRequest(BaseModel):
    tree_size: int = Field(ge=0, le=MAX_TREE_SIZE)
    timestamp: int = Field(ge=0, le=MAX_TREE_SIZE, description="Milliseconds since the epoch, UTC")
    root_hash: str
    signature: str = Field(description="Ed25519 over 'zhengxin-cosignature/v1\\n' + the head's canonical JSON; hex")


class Receipt(BaseModel):
    leaf_index: int
    leaf: str
    inclusion_proof: InclusionProof
    sth: SignedTreeHead
    log_key: LogKey
