//===- main.cpp - an application running an attnc model -------------------===//
//
//   embed MODEL.cubin|MODEL.ir emu|cuda OUTDIR
//
// Loads the model (a .ir is compiled in process by attnc_jit_compile and
// cached), prints its signature, fills every input with a deterministic
// pattern, runs it on the chosen device and writes the inputs and outputs
// as OUTDIR/in<i>.npy and OUTDIR/out<i>.npy (f32 models), so that another
// tool (the test suite, numpy) can check the results; then prints the time
// of each kernel launch of one more run (Session::profile).
//
//===----------------------------------------------------------------------===//

#include "attnc/jit.h"
#include "attnc/runtime.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

/// A minimal .npy writer for f32 arrays (format version 1.0).
static void writeNpy(const std::string &path, const std::vector<float> &data,
                     const std::vector<int64_t> &shape) {
  std::ostringstream header;
  header << "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (int64_t d : shape)
    header << d << ", ";
  header << "), }";
  std::string text = header.str();
  // Magic, version, header length; the header padded so data is 64-aligned.
  size_t total = 10 + text.size() + 1;
  text.append((64 - total % 64) % 64, ' ');
  text += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  unsigned short length = (unsigned short)text.size();
  out.put(char(length & 0xff)).put(char(length >> 8));
  out << text;
  out.write(reinterpret_cast<const char *>(data.data()),
            std::streamsize(data.size() * sizeof(float)));
}

static std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text;
  for (int64_t d : shape)
    text += (text.empty() ? "" : "x") + std::to_string(d);
  return text;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    std::cerr << "usage: embed MODEL.cubin|MODEL.ir emu|cuda OUTDIR\n";
    return 2;
  }
  std::string path = argv[1], device = argv[2], outDir = argv[3];
  attnc_device_kind kind =
      device == "cuda" ? ATTNC_DEVICE_CUDA : ATTNC_DEVICE_EMU;
  try {
    attnc_model handle = nullptr;
    if (path.size() > 3 && path.compare(path.size() - 3, 3, ".ir") == 0) {
      std::ifstream in(path);
      std::string ir((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
      // For the emulation device, code for sm_90; for a GPU, its own arch.
      attnc::check(attnc_jit_compile(ir.data(), ir.size(), path.c_str(),
                                     kind == ATTNC_DEVICE_EMU ? "sm_90"
                                                              : nullptr,
                                     &handle));
    } else {
      attnc::check(attnc_model_load(path.c_str(), &handle));
    }
    attnc::Model model(handle);
    std::cout << "model for " << model.arch() << ": " << model.numInputs()
              << " inputs, " << model.numOutputs() << " outputs\n";

    attnc::Session session(model, kind);
    std::vector<std::vector<float>> inputs(model.numInputs());
    for (size_t i = 0; i < model.numInputs(); ++i) {
      attnc::TensorInfo info = model.input(i);
      if (info.dtype != ATTNC_F32)
        throw attnc::Error(ATTNC_INVALID_ARGUMENT,
                           "this example feeds f32 inputs only");
      inputs[i].resize(info.bytes / sizeof(float));
      for (size_t j = 0; j < inputs[i].size(); ++j)
        inputs[i][j] = 0.5f * std::sin(0.37f * float(j) + float(i));
      session.bindInput(i, inputs[i].data(), info.bytes, info.dtype,
                        info.shape());
      writeNpy(outDir + "/in" + std::to_string(i) + ".npy", inputs[i],
               info.shape());
      std::cout << "  in" << i << " " << info.name << ": "
                << shapeText(info.shape()) << "\n";
    }
    session.run();
    for (size_t i = 0; i < model.numOutputs(); ++i) {
      attnc::TensorInfo info = model.output(i);
      std::vector<float> values(info.bytes / sizeof(float));
      session.readOutput(i, values.data(), info.bytes);
      writeNpy(outDir + "/out" + std::to_string(i) + ".npy", values,
               info.shape());
      double sum = 0;
      for (float v : values)
        sum += v;
      std::printf("  out%zu %s: %s, sum %.6f\n", i, info.name.c_str(),
                  shapeText(info.shape()).c_str(), sum);
    }
    // Where the time goes: one more run, each kernel launch timed alone.
    std::vector<double> times = session.profile();
    for (size_t i = 0; i < times.size(); ++i) {
      auto [kernel, kind] = model.launch(i);
      std::printf("  %s (%s): %.3f ms\n", kernel.c_str(), kind.c_str(),
                  times[i]);
    }
  } catch (const attnc::Error &error) {
    std::cerr << "embed: error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
