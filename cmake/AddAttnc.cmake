#===- AddAttnc.cmake - helpers for attnc libraries -----------------------===#
#
# Every attnc library links the shared libMLIR and libLLVM rather than the
# hundreds of static component archives: links take seconds instead of
# minutes on a two-core machine, and the binaries stay small.
#
#===---------------------------------------------------------------------===#

# attnc_add_library(name SRCS... [DEPENDS tblgen-targets...] [LINK libs...])
function(attnc_add_library name)
  cmake_parse_arguments(ARG "" "" "DEPENDS;LINK" ${ARGN})
  add_library(${name} STATIC ${ARG_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK})
endfunction()

# The single shared MLIR+LLVM dependency of everything that touches IR.
set(ATTNC_MLIR_LIBS MLIR LLVM)
