#===- AddAttnc.cmake - helpers for attnc libraries -----------------------===#
#
# Every attnc library links the static MLIR and LLVM component archives it
# needs rather than the shared libMLIR and libLLVM. The shared libraries
# cost every attnc process some 50 ms before main (the loader maps and
# relocates 250 MB, half a million relocations): a fifth of the compile
# time of the largest example. Linked statically, the tools take only the
# code they use (attnc is 10 MB) and start in a few milliseconds, and a
# link still takes a second or two. ATTNC_SHARED_MLIR=ON goes back to the
# shared libraries.
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

# The MLIR and LLVM dependency of everything that touches IR (the imported
# targets bring their own dependencies).
option(ATTNC_SHARED_MLIR "Link the shared libMLIR and libLLVM" OFF)
if(ATTNC_SHARED_MLIR)
  set(ATTNC_MLIR_LIBS MLIR LLVM)
  set(ATTNC_MLIR_OPT_LIBS MLIR LLVM)
else()
  set(ATTNC_MLIR_LIBS MLIRIR MLIRParser MLIRPass MLIRTransforms
      MLIRTransformUtils MLIRSideEffectInterfaces MLIRControlFlowInterfaces
      MLIRFunctionInterfaces MLIRInferTypeOpInterface MLIRSupport LLVMSupport)
  # attnc-opt's driver (MlirOptMain) on top.
  set(ATTNC_MLIR_OPT_LIBS MLIROptLib ${ATTNC_MLIR_LIBS})
  # Debian builds the MLIR archives against the LLVM dylib, so their link
  # interfaces name "LLVM". The MLIR code attnc links needs LLVM's support
  # library, and attnc-opt's driver its remark streamer too; an archive
  # contributes only the members something calls.
  foreach(target ${MLIR_EXPORTED_TARGETS})
    if(TARGET ${target})
      get_target_property(type ${target} TYPE)
      if(type STREQUAL "STATIC_LIBRARY")
        get_target_property(deps ${target} INTERFACE_LINK_LIBRARIES)
        if(deps)
          list(TRANSFORM deps REPLACE "^LLVM$" "LLVMSupport;LLVMRemarks")
          set_target_properties(${target} PROPERTIES
            INTERFACE_LINK_LIBRARIES "${deps}")
        endif()
      endif()
    endif()
  endforeach()
  # LLVMSupport's link interface names shared libraries (z3) that the code
  # attnc uses never calls: link them only if something needs them.
  add_link_options(LINKER:--as-needed)
endif()
