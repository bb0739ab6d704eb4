import type { RuleInfo } from './rules.js';

/**
 * Rules for the tensor formats: safetensors, GGUF, and the Jinja chat
 * templates GGUF files (and tokenizer configs) carry. docs/rules.md
 * describes the same rules for people.
 */
export const TENSORS_RULES: RuleInfo[] = [
  {
    id: 'safetensors/invalid-header',
    shortDescription: 'safetensors header cannot be read as the format defines it',
    fullDescription:
      'The 8-byte header length is over the 100 MB the safetensors loader accepts or runs past the end of the file, or ' +
      'the header is not UTF-8, not JSON, not a JSON object, a tensor entry lacks dtype/shape/data_offsets, or ' +
      '__metadata__ holds non-string values. The reference loader refuses such files; other readers may not, and a ' +
      'hostile header is aimed at exactly those readers (huge allocations, parser bugs).',
    defaultSeverity: 'MEDIUM',
    help: 'Do not load the file with hand-written or lenient readers. Re-download it; if it stays malformed, regenerate it with the safetensors library.',
  },
  {
    id: 'safetensors/duplicate-key',
    shortDescription: 'safetensors header names the same key twice',
    fullDescription:
      'A JSON key (a tensor name, __metadata__, or a field of a tensor entry) appears more than once. JSON parsers ' +
      'disagree on which occurrence wins, so a scanner and a loader can see different tensors or offsets.',
    defaultSeverity: 'MEDIUM',
    help: 'Treat the file as crafted. Regenerate it with the safetensors library, which never writes duplicate keys.',
  },
  {
    id: 'safetensors/unknown-dtype',
    shortDescription: 'safetensors tensor has a dtype the format does not define',
    fullDescription:
      'A tensor entry names a dtype outside the list the safetensors crate accepts (F64, F32, F16, BF16, I64, I32, ' +
      'I16, I8, U64, U32, U16, U8, BOOL, C64, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, F6_E2M3, F6_E3M2, ' +
      'F4). Its size cannot be checked and the loader refuses the file.',
    defaultSeverity: 'MEDIUM',
    help: 'Find out which tool wrote the file; re-export it with a current safetensors release.',
  },
  {
    id: 'safetensors/size-mismatch',
    shortDescription: 'safetensors tensor shape and dtype do not match its byte range',
    fullDescription:
      'shape × dtype size differs from end − begin of data_offsets (or is not a whole number of bytes, or overflows ' +
      '64 bits). Readers that trust the shape read outside the tensor; the reference loader refuses the file.',
    defaultSeverity: 'MEDIUM',
    help: 'The file is corrupt or crafted. Do not load it with readers that skip validation; regenerate it.',
  },
  {
    id: 'safetensors/offset-out-of-bounds',
    shortDescription: 'safetensors tensor offsets point outside the file',
    fullDescription:
      'A tensor\'s data_offsets end past the end of the file, or begin after they end. A reader that maps the file and ' +
      'trusts the offsets reads out of bounds: a crash, or memory disclosure in native code.',
    defaultSeverity: 'HIGH',
    help: 'Do not load the file. If it is a truncated download, download it again and compare its checksum with the publisher\'s.',
  },
  {
    id: 'safetensors/overlapping-tensors',
    shortDescription: 'safetensors tensors share bytes',
    fullDescription:
      'Two tensors\' data_offsets overlap, so writing one changes the other. The safetensors writer never produces ' +
      'this and the reference loader refuses it; it is a sign of a hand-made file.',
    defaultSeverity: 'MEDIUM',
    help: 'Regenerate the file with the safetensors library; treat this copy as untrusted.',
  },
  {
    id: 'safetensors/gap',
    shortDescription: 'safetensors data buffer has bytes no tensor covers',
    fullDescription:
      'Bytes between tensors, or before the first one, belong to no tensor. The reference loader refuses such files; ' +
      'unused space is also where extra content can be hidden. The severity is raised to MEDIUM when the unused bytes ' +
      'start like a pickle, an archive or an executable.',
    defaultSeverity: 'LOW',
    help: 'Check which tool wrote the file. If the unused bytes hold a pickle or an archive, treat the file as hostile.',
  },
  {
    id: 'safetensors/trailing-data',
    shortDescription: 'safetensors file continues after its last tensor',
    fullDescription:
      'The file is longer than the header plus the tensors it declares. The reference loader refuses it; appended ' +
      'data is a classic way to make one file two formats at once (a polyglot). Raised to MEDIUM when the appended ' +
      'bytes start like a pickle, an archive or an executable.',
    defaultSeverity: 'LOW',
    help: 'Cut the file to its declared size or regenerate it; if the appended bytes are a pickle or an archive, treat the file as hostile.',
  },
  {
    id: 'gguf/invalid-header',
    shortDescription: 'GGUF header cannot be read as the format defines it',
    fullDescription:
      'The GGUF version is not 1–3, the header ends early, a metadata value has an undefined type, a key is empty or ' +
      'not ASCII, arrays nest, or a tensor info is malformed (a name of 64+ bytes, negative dimensions, a row size ' +
      'that is not a multiple of the type\'s block size). llama.cpp refuses such files; other readers may misread them.',
    defaultSeverity: 'MEDIUM',
    help: 'Re-download the file; if it stays malformed, regenerate it with llama.cpp\'s conversion scripts.',
  },
  {
    id: 'gguf/length-out-of-bounds',
    shortDescription: 'GGUF count or length larger than the file can hold',
    fullDescription:
      'A string length, array count, key/value count or tensor count cannot fit in the bytes left in the file (or ' +
      'exceeds llama.cpp\'s limits), or a tensor declares more than 4 dimensions. These are the inputs behind the ' +
      'heap overflows fixed in ggml\'s GGUF parser in 2024 (CVE-2024-21802, -21825, -21836, -23496, -23605, -25664…' +
      '-25668): older llama.cpp builds and other native readers allocate or copy by these numbers.',
    defaultSeverity: 'HIGH',
    help: 'Do not load the file with old or third-party GGUF readers. A truncated download can cause this too: download again and compare checksums.',
  },
  {
    id: 'gguf/unknown-tensor-type',
    shortDescription: 'GGUF tensor has a ggml type that does not exist',
    fullDescription:
      'A tensor info names a ggml type id that ggml does not define, or one that was removed from GGUF (Q4_2, ' +
      'Q4_0_4_4 …). Its size cannot be computed; readers index per-type tables with this id.',
    defaultSeverity: 'MEDIUM',
    help: 'Re-convert the model with a current llama.cpp; treat this copy as untrusted.',
  },
  {
    id: 'gguf/misaligned-tensor',
    shortDescription: 'GGUF tensor offset or alignment is invalid',
    fullDescription:
      'A tensor\'s data offset is not a multiple of general.alignment, or general.alignment itself is not a ' +
      'power-of-two UINT32. llama.cpp refuses the file; readers that map tensors in place misread them.',
    defaultSeverity: 'MEDIUM',
    help: 'Regenerate the file with llama.cpp\'s conversion scripts.',
  },
  {
    id: 'gguf/tensor-out-of-bounds',
    shortDescription: 'GGUF tensor data extends past the end of the file',
    fullDescription:
      'A tensor\'s offset plus its size (from its shape and type) runs past the end of the file. Readers that map the ' +
      'file and trust the tensor infos read out of bounds.',
    defaultSeverity: 'HIGH',
    help: 'Do not load the file. If it is a truncated download, download it again and compare checksums.',
  },
  {
    id: 'gguf/overlapping-tensors',
    shortDescription: 'GGUF tensors share bytes',
    fullDescription: 'Two tensors\' data ranges overlap. GGUF writers lay tensors out one after another; llama.cpp refuses other layouts.',
    defaultSeverity: 'MEDIUM',
    help: 'Regenerate the file; treat this copy as hand-made and untrusted.',
  },
  {
    id: 'gguf/tensor-gap',
    shortDescription: 'GGUF data section has bytes no tensor covers',
    fullDescription:
      'Between tensors there is more unused space than alignment padding needs. llama.cpp refuses such layouts; unused ' +
      'space is also where extra content can be hidden.',
    defaultSeverity: 'LOW',
    help: 'Check which tool wrote the file.',
  },
  {
    id: 'gguf/duplicate-key',
    shortDescription: 'GGUF metadata key or tensor name appears twice',
    fullDescription:
      'Two metadata pairs share a key, or two tensor infos share a name. llama.cpp refuses the file; other readers keep ' +
      'the first or the last, so a scanner and a loader can see different chat templates or weights.',
    defaultSeverity: 'MEDIUM',
    help: 'Treat the file as crafted; regenerate it.',
  },
  {
    id: 'jinja/ssti-code-execution',
    shortDescription: 'Chat template walks Python objects to code execution',
    fullDescription:
      'The Jinja chat template reaches Python internals through dunder attributes or Jinja globals used as objects ' +
      '(cycler.__init__.__globals__, lipsum.__globals__, self._TemplateReference__context, \'\'.__class__.__mro__, ' +
      '|attr(\'__class__\')) and names os, popen, system, subprocess, eval, exec, __import__, builtins or open. Rendered ' +
      'outside Jinja\'s sandbox — as llama-cpp-python before 0.2.72 did with GGUF chat templates (CVE-2024-34359) — ' +
      'it runs commands as soon as a chat is formatted.',
    defaultSeverity: 'CRITICAL',
    help:
      'Do not load this model in tools that render chat templates without Jinja\'s sandbox; upgrade llama-cpp-python ' +
      'to 0.2.72 or later. Replace the chat template with the one the original model publisher ships.',
  },
  {
    id: 'jinja/ssti-object-walk',
    shortDescription: 'Chat template accesses dunder or private attributes',
    fullDescription:
      'The Jinja chat template reads attributes that start with an underscore (__class__, __mro__, __subclasses__, ' +
      '__globals__, __init__, _TemplateReference__context …) or uses Jinja globals (cycler, joiner, lipsum, ' +
      'namespace, range, self, config, request) as objects. Ordinary chat templates never do; these walks are the ' +
      'first steps of template injection, and the names may be built from pieces (\'__cla\' ~ \'ss__\').',
    defaultSeverity: 'HIGH',
    help: 'Replace the chat template with the publisher\'s original and render templates only in Jinja\'s sandbox.',
  },
  {
    id: 'jinja/ssti-computed-attribute',
    shortDescription: 'Chat template looks up attributes by names computed at render time',
    fullDescription:
      'The template calls |attr() (or map/selectattr with an attribute) with a name that is only known when it is ' +
      'rendered, or looks up dunder names held in strings with computed subscripts. This hides an object walk from ' +
      'readers of the template; ordinary chat templates use fixed names.',
    defaultSeverity: 'HIGH',
    help: 'Read the template to see where the names come from; replace it with the publisher\'s original if in doubt.',
  },
  {
    id: 'jinja/unparsed-template',
    shortDescription: 'Chat template could not be fully parsed; scanned token by token',
    fullDescription:
      'The Jinja parser ptmscope uses rejected the template (it supports less syntax than Jinja), so the template was ' +
      'scanned as a Jinja token stream instead, which sees less (for example names assigned in one statement and used ' +
      'in another). Findings from that scan are reported as usual; this note says the template was not fully analysed.',
    defaultSeverity: 'LOW',
    help: 'Review the template by hand if the model comes from an untrusted source.',
  },
];
