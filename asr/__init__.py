"""ASR: speech in windows -> timed transcript segments (VAD, batched Whisper, hallucination guards,
Chinese normalised to Simplified)."""

from asr.batch_decode import DecodeOptions, decode_chunks
from asr.chinese import to_simplified
from asr.hallucination import GuardOptions, hallucination_reason
from asr.transcriber import AsrOptions, Transcriber, WindowTranscript
from asr.types import Segment
from asr.vad import SpeechDetector, VadOptions
from asr.whisper_model import LoadedWhisper, default_device, load_whisper

__all__ = ["AsrOptions", "DecodeOptions", "GuardOptions", "LoadedWhisper", "Segment", "SpeechDetector",
           "Transcriber", "VadOptions", "WindowTranscript", "decode_chunks", "default_device",
           "hallucination_reason", "load_whisper", "to_simplified"]
