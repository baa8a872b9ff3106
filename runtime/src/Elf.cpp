//===- Elf.cpp - find a symbol's bytes in an in-memory ELF64 image --------===//
//
// A minimal ELF64 reader: the ELF header, the section header table and one
// symbol table, which is all it takes to locate an initialised variable in
// a cubin. Fields are decoded byte by byte as little-endian, so the reader
// neither depends on the host's byte order nor on the image's alignment,
// and every range taken from the file is checked with `fits`, which cannot
// overflow, before a byte of it is read. Layouts and constants follow the
// System V gABI ("ELF-64 Object File Format").
//
//===----------------------------------------------------------------------===//

#include "Elf.h"

#include <cstring>
#include <vector>

using namespace attnc::rt;

namespace {

// Sizes of the ELF64 structures this reader decodes.
constexpr uint64_t kEhdrSize = 64;
constexpr uint64_t kShdrSize = 64;
constexpr uint64_t kSymSize = 24;

// e_ident values.
constexpr uint8_t kElfClass32 = 1;
constexpr uint8_t kElfClass64 = 2;
constexpr uint8_t kElfData2Lsb = 1;

constexpr uint16_t kEtRel = 1;

// Section types. NVIDIA uses processor-specific types (0x70000000 and up)
// for some sections of relocatable (-rdc) cubins, `.nv.global.init`
// included, so the reader accepts any type as holding file data except the
// two below that by definition hold none.
constexpr uint32_t kShtNull = 0;
constexpr uint32_t kShtSymtab = 2;
constexpr uint32_t kShtStrtab = 3;
constexpr uint32_t kShtNobits = 8;

// Special section indices.
constexpr uint16_t kShnUndef = 0;
constexpr uint16_t kShnLoReserve = 0xff00;
constexpr uint16_t kShnAbs = 0xfff1;
constexpr uint16_t kShnCommon = 0xfff2;
constexpr uint16_t kShnXindex = 0xffff;

uint16_t le16(const uint8_t *p) { return uint16_t(p[0] | (p[1] << 8)); }

uint32_t le32(const uint8_t *p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) |
         (uint32_t(p[3]) << 24);
}

uint64_t le64(const uint8_t *p) {
  return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32);
}

/// True when [offset, offset + length) lies within [0, limit). Written as two
/// comparisons instead of `offset + length <= limit` so that no corrupted
/// value can wrap the sum around.
bool fits(uint64_t offset, uint64_t length, uint64_t limit) {
  return offset <= limit && length <= limit - offset;
}

struct Section {
  uint32_t name = 0;
  uint32_t type = 0;
  uint64_t addr = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t link = 0;
  uint64_t entsize = 0;
};

/// Decodes the section header at `p`, which the caller has bounds-checked.
Section readSection(const uint8_t *p) {
  Section s;
  s.name = le32(p + 0);
  s.type = le32(p + 4);
  s.addr = le64(p + 16);
  s.offset = le64(p + 24);
  s.size = le64(p + 32);
  s.link = le32(p + 40);
  s.entsize = le64(p + 56);
  return s;
}

bool hasFileData(const Section &s) {
  return s.type != kShtNull && s.type != kShtNobits;
}

std::string str(uint64_t value) { return std::to_string(value); }

std::string hex(uint64_t value) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), digits[value & 15]);
    value >>= 4;
  } while (value);
  return "0x" + out;
}

/// Names in messages come from the file: keep them short and printable so
/// that a corrupted name cannot break the one-line message.
std::string printable(const uint8_t *p, size_t length) {
  constexpr size_t kMax = 64;
  std::string out;
  for (size_t i = 0; i < length && i < kMax; ++i)
    out += (p[i] >= 0x20 && p[i] < 0x7f) ? char(p[i]) : '?';
  if (length > kMax)
    out += "...";
  return out;
}

/// What the reader knows about the image once the section table is read.
struct Image {
  const uint8_t *data;
  uint64_t size;
  std::vector<Section> sections;
  uint64_t shstrndx = 0;

  /// "section 15 (.nv.global.init)" when the name can be read, else
  /// "section 15": names only make messages clearer, so a damaged
  /// .shstrtab must not turn into an error of its own. Messages about
  /// damaged sections call this before all sections are validated, so it
  /// checks the name table's range itself.
  std::string label(uint64_t index) const {
    std::string out = "section " + str(index);
    if (index >= sections.size() || shstrndx >= sections.size())
      return out;
    const Section &names = sections[shstrndx];
    if (!hasFileData(names) || !fits(names.offset, names.size, size) ||
        sections[index].name >= names.size)
      return out;
    const uint8_t *begin = data + names.offset + sections[index].name;
    uint64_t room = names.size - sections[index].name;
    const void *nul = std::memchr(begin, 0, size_t(room));
    if (!nul)
      return out;
    return out + " (" +
           printable(begin, size_t(static_cast<const uint8_t *>(nul) - begin)) +
           ")";
  }
};

} // namespace

bool attnc::rt::findElfSymbol(const uint8_t *data, size_t size,
                              const std::string &name, ElfSymbol *symbol,
                              std::string *error) {
  auto fail = [&](const std::string &message) {
    if (error)
      *error = message;
    return false;
  };
  if (!data)
    size = 0;

  // ELF header: identification first, so that a file that is not ELF64 LE
  // is reported as such rather than as truncated or corrupted.
  static const uint8_t kMagic[4] = {0x7f, 'E', 'L', 'F'};
  if (size < 4 || std::memcmp(data, kMagic, 4) != 0)
    return fail("not an ELF file (it does not start with \\x7fELF)");
  if (size < 6)
    return fail("truncated ELF header: the image is " + str(size) +
                " bytes long");
  if (data[4] == kElfClass32)
    return fail("not an ELF64 file: it is 32-bit ELF");
  if (data[4] != kElfClass64)
    return fail("not an ELF64 file: unknown ELF class " + str(data[4]));
  if (data[5] != kElfData2Lsb)
    return fail("not a little-endian ELF file (data encoding " + str(data[5]) +
                ")");
  if (size < kEhdrSize)
    return fail("truncated ELF header: the image is " + str(size) +
                " bytes long, the ELF64 header alone takes 64");

  Image image{data, size, {}, 0};
  uint16_t fileType = le16(data + 16);
  uint64_t shoff = le64(data + 40);
  uint16_t shentsize = le16(data + 58);
  uint64_t shnum = le16(data + 60);
  image.shstrndx = le16(data + 62);

  if (shoff == 0)
    return fail("the ELF file has no section table, so no .symtab");
  if (shentsize != kShdrSize)
    return fail("unexpected ELF section header size " + str(shentsize) +
                " (ELF64 uses 64)");
  if (!fits(shoff, kShdrSize, size))
    return fail("truncated section table: it starts at offset " + str(shoff) +
                " of a " + str(size) + "-byte image");
  // Extended numbering (gABI): with 0xff00 sections or more, e_shnum is 0
  // and the count lives in section 0's sh_size; likewise a section-name
  // table index of SHN_XINDEX lives in section 0's sh_link.
  Section first = readSection(data + shoff);
  if (shnum == 0)
    shnum = first.size;
  if (image.shstrndx == kShnXindex)
    image.shstrndx = first.link;
  if (shnum > (size - shoff) / kShdrSize)
    return fail("truncated section table: " + str(shnum) +
                " section headers from offset " + str(shoff) +
                " do not fit in a " + str(size) + "-byte image");

  image.sections.reserve(size_t(shnum));
  for (uint64_t i = 0; i < shnum; ++i)
    image.sections.push_back(readSection(data + shoff + i * kShdrSize));
  // Check every section up front rather than only the ones used: a range
  // past the end means the file is damaged, and saying so early gives a
  // clearer message than a missing symbol would.
  for (uint64_t i = 0; i < shnum; ++i) {
    const Section &s = image.sections[size_t(i)];
    if (hasFileData(s) && !fits(s.offset, s.size, size))
      return fail(image.label(i) + " runs past the end of the image: " +
                  str(s.size) + " bytes at offset " + str(s.offset) + " of a " +
                  str(size) + "-byte image");
  }

  // The gABI allows one SHT_SYMTAB per file; find it by type, not by name,
  // so that the section-name table is not needed to find it.
  const Section *symtab = nullptr;
  for (const Section &s : image.sections)
    if (s.type == kShtSymtab) {
      symtab = &s;
      break;
    }
  if (!symtab)
    return fail("the ELF file has no .symtab (was it stripped?)");
  if (symtab->entsize != kSymSize)
    return fail("unexpected .symtab entry size " + str(symtab->entsize) +
                " (ELF64 uses 24)");
  if (symtab->size % kSymSize != 0)
    return fail(".symtab size " + str(symtab->size) +
                " is not a multiple of its entry size 24");
  if (symtab->link >= shnum || image.sections[symtab->link].type != kShtStrtab)
    return fail(".symtab names string table " + str(symtab->link) +
                ", which is not a string table");
  const Section &strtab = image.sections[symtab->link];

  // A symbol matches when the string table holds exactly `name` followed by
  // its terminator at st_name; comparing in place avoids scanning for the
  // terminator of every other name.
  const uint8_t *strings = data + strtab.offset;
  const uint8_t *match = nullptr;
  bool sawUndefined = false;
  for (uint64_t at = 0; at < symtab->size; at += kSymSize) {
    const uint8_t *sym = data + symtab->offset + at;
    uint32_t nameOffset = le32(sym + 0);
    if (!fits(nameOffset, uint64_t(name.size()) + 1, strtab.size))
      continue;
    if (std::memcmp(strings + nameOffset, name.data(), name.size()) != 0 ||
        strings[nameOffset + name.size()] != 0)
      continue;
    if (le16(sym + 6) == kShnUndef) {
      sawUndefined = true;
      continue;
    }
    match = sym;
    break;
  }
  if (!match)
    return fail(sawUndefined ? "symbol '" + name +
                                   "' is only referenced, not defined, here"
                             : "no symbol '" + name + "' in .symtab");

  uint16_t shndx = le16(match + 6);
  uint64_t value = le64(match + 8);
  uint64_t length = le64(match + 16);
  if (shndx >= kShnLoReserve) {
    const char *kind = shndx == kShnAbs      ? "an absolute symbol"
                       : shndx == kShnCommon ? "a common (unallocated) symbol"
                       : shndx == kShnXindex
                           ? "in a section numbered past 0xff00, which is "
                             "not supported"
                           : "in a reserved section index";
    return fail("symbol '" + name + "' has no bytes in the file: it is " +
                kind + " (" + hex(shndx) + ")");
  }
  if (shndx >= shnum)
    return fail("symbol '" + name + "' names section " + str(shndx) +
                ", but the file has only " + str(shnum));
  const Section &section = image.sections[shndx];
  if (section.type == kShtNobits)
    return fail("symbol '" + name + "' lies in " + image.label(shndx) +
                ", which has no file data (SHT_NOBITS): the variable must "
                "have an initialiser");
  if (!hasFileData(section))
    return fail("symbol '" + name + "' lies in " + image.label(shndx) +
                ", which is an unused (SHT_NULL) section");

  // In a relocatable file (ET_REL) st_value is the offset within the
  // section. In an executable or shared object it is a virtual address, and
  // the section is mapped at sh_addr, so the offset is st_value - sh_addr.
  // Cubins from nvcc and NVRTC are ET_EXEC with every sh_addr 0 (and -rdc
  // ones ET_REL), so for them both rules give st_value itself.
  uint64_t within = value;
  if (fileType != kEtRel) {
    if (value < section.addr)
      return fail("symbol '" + name + "' at address " + hex(value) +
                  " lies before the start of " + image.label(shndx) + " at " +
                  hex(section.addr));
    within = value - section.addr;
  }
  if (!fits(within, length, section.size))
    return fail("symbol '" + name + "' (" + str(length) + " bytes at offset " +
                str(within) + ") runs outside " + image.label(shndx) +
                ", which holds " + str(section.size) + " bytes");

  // The section lies within the image (checked above), so this sum neither
  // wraps nor leaves the image, and both values fit in size_t.
  if (symbol) {
    symbol->fileOffset = size_t(section.offset + within);
    symbol->size = size_t(length);
  }
  return true;
}
